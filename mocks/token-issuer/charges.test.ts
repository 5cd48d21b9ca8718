import { describe, expect, it } from 'vitest';
import { API_KEY, body, issuerCall } from '../testing/helpers.ts';
import { createTokenIssuerApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/token-issuer/openapi.yaml) in every answer below. */
const createTokenIssuerApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'token-issuer');

async function setup(amount = '50.00', opts: { now?: () => number; expiresInSeconds?: number } = {}) {
  const app = createTokenIssuerApp({ apiKey: API_KEY, ...(opts.now ? { now: opts.now } : {}) });
  const token = await body(
    await issuerCall(app, 'POST', '/v1/tokens', {
      amount,
      currency: 'CNY',
      merchantId: 'marketplace',
      reference: 'task-c',
      ...(opts.expiresInSeconds ? { expiresInSeconds: opts.expiresInSeconds } : {}),
    }),
  );
  const charge = (payload: unknown, key?: string) =>
    issuerCall(app, 'POST', `/v1/tokens/${token.id}/charges`, payload, key === undefined ? {} : { 'idempotency-key': key });
  const get = async () => body(await issuerCall(app, 'GET', `/v1/tokens/${token.id}`));
  return { app, token, charge, get };
}

const ok = { amount: '12.00', merchantId: 'marketplace', description: '/company/detail?id=co_1' };

describe('POST /v1/tokens/:id/charges', () => {
  it('creates a charge (201) and lowers the balance', async () => {
    const { charge, get } = await setup();
    const res = await charge(ok, 'k1');
    expect(res.status).toBe(201);
    const created = await body(res);
    expect(created).toEqual({
      id: expect.any(String),
      amount: '12.00',
      merchantId: 'marketplace',
      description: '/company/detail?id=co_1',
      idempotencyKey: 'k1',
      refundedAmount: '0.00',
      createdAt: expect.any(String),
    });
    const token = await get();
    expect(token).toMatchObject({ balance: '38.00', spent: '12.00', limit: '50.00' });
    expect(token.charges).toEqual([created]);
  });

  it('requires Idempotency-Key (400)', async () => {
    const { charge, get } = await setup();
    const res = await charge(ok);
    expect(res.status).toBe(400);
    expect((await body(res)).error.code).toEqual(expect.any(String));
    expect((await get()).charges).toHaveLength(0);
  });

  it('replays the same key and body (200, Idempotent-Replayed: true) without charging twice', async () => {
    const { charge, get } = await setup();
    const first = await body(await charge(ok, 'k1'));
    const again = await charge({ ...ok, amount: 12 }, 'k1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await body(again)).toEqual(first);
    expect((await get()).spent).toBe('12.00');
  });

  it('answers 422 idempotency_conflict for the same key with another body', async () => {
    const { charge, get } = await setup();
    await charge(ok, 'k1');
    for (const other of [{ ...ok, amount: '13.00' }, { ...ok, description: 'other' }]) {
      const res = await charge(other, 'k1');
      expect(res.status).toBe(422);
      expect((await body(res)).error.code).toBe('idempotency_conflict');
    }
    expect((await get()).charges).toHaveLength(1);
  });

  it('scopes keys to the token', async () => {
    const a = await setup();
    const b = await setup();
    expect((await a.charge(ok, 'same')).status).toBe(201);
    expect((await b.charge({ ...ok, amount: '3.00' }, 'same')).status).toBe(201);
  });

  it('answers 402 insufficient_funds over the balance; the key stays free', async () => {
    const { charge, get } = await setup('20.00');
    expect((await charge(ok, 'k1')).status).toBe(201);
    const res = await charge(ok, 'k2');
    expect(res.status).toBe(402);
    expect((await body(res)).error.code).toBe('insufficient_funds');
    expect((await charge({ ...ok, amount: '8.00' }, 'k2')).status).toBe(201);
    expect(await get()).toMatchObject({ balance: '0.00', spent: '20.00' });
  });

  it('answers 403 merchant_mismatch for another merchant', async () => {
    const { charge } = await setup();
    const res = await charge({ ...ok, merchantId: 'someone-else' }, 'k1');
    expect(res.status).toBe(403);
    expect((await body(res)).error.code).toBe('merchant_mismatch');
  });

  it('answers 409 token_closed after close', async () => {
    const { app, token, charge } = await setup();
    await issuerCall(app, 'POST', `/v1/tokens/${token.id}/close`);
    const res = await charge(ok, 'k1');
    expect(res.status).toBe(409);
    expect((await body(res)).error.code).toBe('token_closed');
  });

  it('answers 409 token_expired after expiry', async () => {
    let now = Date.now();
    const { charge } = await setup('50.00', { now: () => now, expiresInSeconds: 30 });
    expect((await charge(ok, 'k1')).status).toBe(201);
    now += 31_000;
    const res = await charge({ ...ok, amount: '1.00' }, 'k2');
    expect(res.status).toBe(409);
    expect((await body(res)).error.code).toBe('token_expired');
    // a replay of a charge made before expiry still answers the charge
    expect((await charge(ok, 'k1')).status).toBe(200);
  });

  it('answers 404 not_found for an unknown token and 400 on bad bodies', async () => {
    const { app, charge } = await setup();
    const res = await issuerCall(app, 'POST', '/v1/tokens/tok_nope/charges', ok, { 'idempotency-key': 'k' });
    expect(res.status).toBe(404);
    expect((await body(res)).error.code).toBe('not_found');
    for (const bad of [{ merchantId: 'marketplace' }, { ...ok, amount: '1.001' }, { ...ok, amount: 0.1 + 0.2 }, { amount: '1.00' }]) {
      const r = await charge(bad, `bad-${JSON.stringify(bad)}`);
      expect(r.status).toBe(400);
      expect((await body(r)).error.code).toBe('invalid_request');
    }
  });
});
