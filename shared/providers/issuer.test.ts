import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuerClient } from './issuer.ts';
import { PROVIDER_LIMITS } from './limits.ts';

/** The issuer's whole book as `GET /v1/tokens` answers it: `tokens` tokens of three charges each. */
function book(tokens: number): Buffer {
  const data = Array.from({ length: tokens }, (_, i) => ({
    id: `tok_${i.toString().padStart(8, '0')}`,
    limit: '50.00',
    balance: '22.50',
    spent: '27.50',
    currency: 'CNY',
    merchantId: 'merchant-research',
    reference: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
    status: 'closed',
    expiresAt: '2026-11-30T00:00:00.000Z',
    charges: [1, 2, 3].map((n) => ({ id: `ch_${i}_${n}`, amount: n === 3 ? '7.50' : '10.00', merchantId: 'merchant-research', description: `record ${n}`, idempotencyKey: `key-${i}-${n}`, refundedAmount: '0.00' })),
  }));
  return Buffer.from(JSON.stringify({ data }));
}

let server: Server;
let base: string;
let answer: Buffer;

beforeAll(async () => {
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(answer.length) }).end(answer));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("the issuer's whole book (the audit's listing)", () => {
  it('is read whole when it is longer than an ordinary answer may be', async () => {
    // About 5,000 tokens: a few weeks of a busy account, and more than PROVIDER_LIMITS.answerBytes.
    answer = book(5_000);
    expect(answer.length).toBeGreaterThan(PROVIDER_LIMITS.answerBytes);
    const tokens = await new IssuerClient(base, 'key', 10_000).allTokens();
    expect(tokens).toHaveLength(5_000);
    expect(tokens[4_999]).toMatchObject({ id: 'tok_00004999', spent: 2750, charges: [{ amount: 1000 }, { amount: 1000 }, { amount: 750 }] });
  });

  it('an answer over its limit is refused naming the limit, never parsed in part (here: the tokens of one reference, held to an ordinary answer\'s limit)', async () => {
    answer = book(5_000);
    const client = new IssuerClient(base, 'key', 10_000);
    await expect(client.tokensFor('any')).rejects.toThrow(`issuer list tokens answered more than ${PROVIDER_LIMITS.answerBytes} bytes: not read`);
  });
});
