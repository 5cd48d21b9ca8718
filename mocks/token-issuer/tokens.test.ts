import { describe, expect, it } from 'vitest';
import { API_KEY, body, issuerCall } from '../testing/helpers.ts';
import { createTokenIssuerApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/token-issuer/openapi.yaml) in every answer below. */
const createTokenIssuerApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'token-issuer');

const newToken = { amount: '50.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-a' };

describe('token issuer: auth', () => {
  it('answers 401 unauthorized without or with a wrong key; /healthz is open', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: API_KEY }, { authorization: `Basic ${API_KEY}` }];
    for (const headers of variants) {
      const res = await app.request('/v1/tokens', { headers });
      expect(res.status).toBe(401);
      expect(await body(res)).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await issuerCall(app, 'GET', '/v1/tokens')).status).toBe(200);
  });
});

describe('POST /v1/tokens', () => {
  it('creates an active token with the full shape', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const before = Date.now();
    const res = await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, voiceVerification: { verified: true, score: 0.97 } });
    expect(res.status).toBe(201);
    const token = await body(res);
    expect(token).toEqual({
      id: expect.any(String),
      limit: '50.00',
      balance: '50.00',
      spent: '0.00',
      currency: 'CNY',
      merchantId: 'marketplace',
      reference: 'task-a',
      status: 'active',
      expiresAt: expect.any(String),
      charges: [],
    });
    const ttl = Date.parse(token.expiresAt) - before;
    expect(ttl).toBeGreaterThan(3590_000);
    expect(ttl).toBeLessThan(3610_000);
  });

  it('accepts JSON numbers with at most two decimals and expiresInSeconds', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const res = await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, amount: 12.5, expiresInSeconds: 60 });
    expect(res.status).toBe(201);
    const token = await body(res);
    expect(token.limit).toBe('12.50');
    expect(Date.parse(token.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it.each([
    ['float amount', { ...newToken, amount: 0.30000000000000004 }],
    ['float string', { ...newToken, amount: '0.30000000000000004' }],
    ['three decimals', { ...newToken, amount: '1.234' }],
    ['zero', { ...newToken, amount: '0.00' }],
    ['negative', { ...newToken, amount: '-5' }],
    ['other currency', { ...newToken, currency: 'USD' }],
    ['no merchant', { amount: '5.00', currency: 'CNY', reference: 'r' }],
    ['no reference', { amount: '5.00', currency: 'CNY', merchantId: 'm' }],
    ['bad expiry', { ...newToken, expiresInSeconds: 1.5 }],
    ['not json', '{oops'],
  ])('answers 400 invalid_request: %s', async (_name, payload) => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const res = await issuerCall(app, 'POST', '/v1/tokens', payload);
    expect(res.status).toBe(400);
    expect((await body(res)).error.code).toBe('invalid_request');
  });

  it('returns the same token for the same Idempotency-Key; 422 for another body', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const first = await issuerCall(app, 'POST', '/v1/tokens', newToken, { 'idempotency-key': 'create-1' });
    expect(first.status).toBe(201);
    const again = await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, amount: '50' }, { 'idempotency-key': 'create-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await body(again)).id).toBe((await body(first)).id);
    const conflict = await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, amount: '60.00' }, { 'idempotency-key': 'create-1' });
    expect(conflict.status).toBe(422);
    expect((await body(conflict)).error.code).toBe('idempotency_conflict');
    const list = await body(await issuerCall(app, 'GET', '/v1/tokens'));
    expect(list.data).toHaveLength(1);
  });
});

describe('GET /v1/tokens', () => {
  it('gets one token by id, 404 not_found for unknown', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const created = await body(await issuerCall(app, 'POST', '/v1/tokens', newToken));
    const res = await issuerCall(app, 'GET', `/v1/tokens/${created.id}`);
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual(created);
    const missing = await issuerCall(app, 'GET', '/v1/tokens/tok_nope');
    expect(missing.status).toBe(404);
    expect((await body(missing)).error.code).toBe('not_found');
  });

  it('lists tokens by reference, with their charges; all without a filter', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const a = await body(await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, reference: 'r-1' }));
    await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, reference: 'r-2' });
    await issuerCall(app, 'POST', `/v1/tokens/${a.id}/charges`, { amount: '1.00', merchantId: 'marketplace' }, { 'idempotency-key': 'c1' });
    const filtered = await body(await issuerCall(app, 'GET', '/v1/tokens?reference=r-1'));
    expect(filtered.data).toHaveLength(1);
    expect(filtered.data[0]).toMatchObject({ id: a.id, reference: 'r-1', spent: '1.00' });
    expect(filtered.data[0].charges).toHaveLength(1);
    expect((await body(await issuerCall(app, 'GET', '/v1/tokens'))).data).toHaveLength(2);
    expect((await body(await issuerCall(app, 'GET', '/v1/tokens?reference=none'))).data).toEqual([]);
  });
});

describe('token status and close', () => {
  it('becomes expired when the clock passes expiresAt', async () => {
    let now = Date.now();
    const app = createTokenIssuerApp({ apiKey: API_KEY, now: () => now });
    const token = await body(await issuerCall(app, 'POST', '/v1/tokens', { ...newToken, expiresInSeconds: 60 }));
    now += 61_000;
    const later = await body(await issuerCall(app, 'GET', `/v1/tokens/${token.id}`));
    expect(later.status).toBe('expired');
    expect(later.balance).toBe('0.00');
  });

  it('closes with 200, again 200, balance 0.00 and status closed', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const token = await body(await issuerCall(app, 'POST', '/v1/tokens', newToken));
    await issuerCall(app, 'POST', `/v1/tokens/${token.id}/charges`, { amount: '10.00', merchantId: 'marketplace' }, { 'idempotency-key': 'c1' });
    for (let i = 0; i < 2; i++) {
      const res = await issuerCall(app, 'POST', `/v1/tokens/${token.id}/close`);
      expect(res.status).toBe(200);
      expect(await body(res)).toMatchObject({ status: 'closed', balance: '0.00', spent: '10.00', limit: '50.00' });
    }
    const missing = await issuerCall(app, 'POST', '/v1/tokens/tok_nope/close');
    expect(missing.status).toBe(404);
  });

  it('answers unknown routes with 404 in the issuer error shape', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY });
    const res = await issuerCall(app, 'GET', '/v2/whatever');
    expect(res.status).toBe(404);
    expect((await body(res)).error.code).toBe('not_found');
  });
});
