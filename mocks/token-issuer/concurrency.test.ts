import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMocks } from '../index.ts';
import { body, createToken, issuerHttp, startIssuer } from '../testing/helpers.ts';

let issuer: RunningMocks;
beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(() => issuer.close());

describe('token issuer under concurrency (real HTTP)', () => {
  it('50 concurrent charges on one token never exceed its limit', async () => {
    const url = issuer.urls.tokenIssuer!;
    const token = await createToken(url, '100.00');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        issuerHttp(url, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '3.00', merchantId: 'marketplace' }, { 'idempotency-key': `c-${i}` }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    const created = statuses.filter((s) => s === 201).length;
    expect(created).toBe(33); // floor(100 / 3)
    expect(statuses.filter((s) => s === 402).length).toBe(17);
    const after = await body(await issuerHttp(url, 'GET', `/v1/tokens/${token.id}`));
    expect(after.charges).toHaveLength(33);
    expect(after.spent).toBe('99.00');
    expect(after.balance).toBe('1.00');
  });

  it('concurrent requests with one key create one charge', async () => {
    const url = issuer.urls.tokenIssuer!;
    const token = await createToken(url, '100.00');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => issuerHttp(url, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '7.00', merchantId: 'marketplace' }, { 'idempotency-key': 'one' })),
    );
    expect(answers.map((r) => r.status).filter((s) => s === 201)).toHaveLength(1);
    expect(answers.map((r) => r.status).filter((s) => s === 200)).toHaveLength(19);
    expect((await body(await issuerHttp(url, 'GET', `/v1/tokens/${token.id}`))).spent).toBe('7.00');
  });
});
