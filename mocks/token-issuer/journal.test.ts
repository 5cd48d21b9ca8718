import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, body, issuerCall } from '../testing/helpers.ts';
import { createTokenIssuerApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/token-issuer/openapi.yaml) in every answer below. */
const createTokenIssuerApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'token-issuer');

const dirs: string[] = [];
function journalPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'issuer-journal-'));
  dirs.push(dir);
  return join(dir, 'nested', 'token-issuer.journal');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('token issuer journal', () => {
  it('keeps tokens, charges, refunds, closes and idempotency keys across a restart', async () => {
    const path = journalPath();
    const before = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    const token = await body(await issuerCall(before, 'POST', '/v1/tokens', { amount: '30.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-j' }, { 'idempotency-key': 't1' }));
    const charge = await body(await issuerCall(before, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '10.00', merchantId: 'marketplace', description: 'd' }, { 'idempotency-key': 'c1' }));
    await issuerCall(before, 'POST', `/v1/charges/${charge.id}/refunds`, { amount: '4.00' }, { 'idempotency-key': 'r1' });
    const other = await body(await issuerCall(before, 'POST', '/v1/tokens', { amount: '5.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-k' }));
    await issuerCall(before, 'POST', `/v1/tokens/${other.id}/close`);
    const snapshot = await body(await issuerCall(before, 'GET', '/v1/tokens'));

    const after = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    expect(await body(await issuerCall(after, 'GET', '/v1/tokens'))).toEqual(snapshot);
    const restored = await body(await issuerCall(after, 'GET', `/v1/tokens/${token.id}`));
    expect(restored).toMatchObject({ spent: '6.00', balance: '24.00', status: 'active' });
    expect(restored.charges[0]).toMatchObject({ id: charge.id, refundedAmount: '4.00', idempotencyKey: 'c1' });

    // idempotency survives: replays answer the originals, conflicts are still detected
    const replay = await issuerCall(after, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '10.00', merchantId: 'marketplace', description: 'd' }, { 'idempotency-key': 'c1' });
    expect(replay.status).toBe(200);
    expect((await body(replay)).id).toBe(charge.id);
    const tokenReplay = await issuerCall(after, 'POST', '/v1/tokens', { amount: '30.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-j' }, { 'idempotency-key': 't1' });
    expect((await body(tokenReplay)).id).toBe(token.id);
    expect((await issuerCall(after, 'POST', `/v1/charges/${charge.id}/refunds`, { amount: '5.00' }, { 'idempotency-key': 'r1' })).status).toBe(422);

    // and the restarted books keep being written
    await issuerCall(after, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '1.00', merchantId: 'marketplace' }, { 'idempotency-key': 'c2' });
    const third = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    expect((await body(await issuerCall(third, 'GET', `/v1/tokens/${token.id}`))).spent).toBe('7.00');
  });

  it('writes one JSON line per change, synchronously before answering', async () => {
    const path = journalPath();
    const app = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    await issuerCall(app, 'POST', '/v1/tokens', { amount: '30.00', currency: 'CNY', merchantId: 'marketplace', reference: 'x' });
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).type).toBe('token_created');
  });

  it('drops a torn last line (a write cut short) and keeps the rest', async () => {
    const path = journalPath();
    const app = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    const token = await body(await issuerCall(app, 'POST', '/v1/tokens', { amount: '30.00', currency: 'CNY', merchantId: 'marketplace', reference: 'x' }));
    appendFileSync(path, '{"v":1,"type":"charge_cre');
    const restarted = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    expect((await issuerCall(restarted, 'GET', `/v1/tokens/${token.id}`)).status).toBe(200);
    await issuerCall(restarted, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '2.00', merchantId: 'marketplace' }, { 'idempotency-key': 'c' });
    const again = createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    expect((await body(await issuerCall(again, 'GET', `/v1/tokens/${token.id}`))).spent).toBe('2.00');
  });

  it('refuses to start on a journal corrupt in the middle', () => {
    const path = journalPath();
    createTokenIssuerApp({ apiKey: API_KEY, journalPath: path });
    writeFileSync(path, 'not json\n{"v":1}\n');
    expect(() => createTokenIssuerApp({ apiKey: API_KEY, journalPath: path })).toThrow(/line 1 is corrupt/);
  });
});
