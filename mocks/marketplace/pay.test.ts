import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANIES } from '../data/companies.ts';
import type { RunningMocks } from '../index.ts';
import { formatAmount } from '../lib/money.ts';
import { API_KEY, body, createToken, issuerHttp, pay, SECRET, startIssuer, uniqueKey } from '../testing/helpers.ts';
import { createMarketplaceApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/marketplace/openapi.yaml) in every answer below. */
const createMarketplaceApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'marketplace');

let issuer: RunningMocks;
let issuerUrl: string;
let app: ReturnType<typeof createMarketplaceApp>;
const company = COMPANIES.find((c) => c.priceFen % 100 === 0 && c.priceFen > 500)!; // a whole-yuan price, e.g. 12.00
const resource = `/company/detail?id=${company.id}`;
const price = formatAmount(company.priceFen);

beforeAll(async () => {
  issuer = await startIssuer();
  issuerUrl = issuer.urls.tokenIssuer!;
  app = createMarketplaceApp({ issuerUrl, issuerApiKey: API_KEY, receiptSecret: SECRET });
});
afterAll(() => issuer.close());

const tokenOf = async (id: string) => body(await issuerHttp(issuerUrl, 'GET', `/v1/tokens/${id}`));

describe('POST /pay', () => {
  it('charges the token at the issuer as merchant "marketplace" and answers 201 with a receipt', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const key = uniqueKey();
    const res = await pay(app, { tokenId: token.id, amount: price, resource }, key);
    expect(res.status).toBe(201);
    const doc = await body(res);
    expect(doc.data.type).toBe('payment_receipt');
    expect(doc.data.id).toMatch(/^rcpt_/);
    expect(doc.data.attributes).toMatchObject({ amount: price, currency: 'CNY', resource, receipt: expect.any(String), chargeId: expect.any(String) });

    const after = await tokenOf(token.id);
    expect(after.charges).toHaveLength(1);
    expect(after.charges[0]).toMatchObject({ id: doc.data.attributes.chargeId, amount: price, merchantId: 'marketplace', description: resource, idempotencyKey: key });
    expect(after.spent).toBe(price);

    const detail = await app.request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': doc.data.attributes.receipt } });
    expect(detail.status).toBe(200);
  });

  it('compares amounts by value ("12" equals "12.00", and a JSON number works)', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const whole = String(company.priceFen / 100);
    expect(whole).not.toContain('.');
    const res = await pay(app, { tokenId: token.id, amount: whole, resource }, uniqueKey());
    expect(res.status).toBe(201);
    expect((await body(res)).data.attributes.amount).toBe(price);
    const res2 = await pay(app, { tokenId: token.id, amount: company.priceFen / 100, resource }, uniqueKey());
    expect(res2.status).toBe(201);
  });

  it('replays the same key and body with the same receipt (200) and charges once', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const key = uniqueKey();
    const first = await body(await pay(app, { tokenId: token.id, amount: price, resource }, key));
    const again = await pay(app, { tokenId: token.id, amount: String(company.priceFen / 100), resource }, key);
    expect(again.status).toBe(200);
    expect(await body(again)).toEqual(first);
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });

  it('answers 422 idempotency_conflict for the same key with another body', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const other = COMPANIES.find((c) => c.id !== company.id)!;
    const key = uniqueKey();
    expect((await pay(app, { tokenId: token.id, amount: price, resource }, key)).status).toBe(201);
    const res = await pay(app, { tokenId: token.id, amount: formatAmount(other.priceFen), resource: `/company/detail?id=${other.id}` }, key);
    expect(res.status).toBe(422);
    expect((await body(res)).errors[0]).toMatchObject({ status: '422', code: 'idempotency_conflict' });
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });

  it('requires Idempotency-Key (400)', async () => {
    const res = await pay(app, { tokenId: 'tok_x', amount: price, resource }, null);
    expect(res.status).toBe(400);
    expect((await body(res)).errors[0].status).toBe('400');
  });

  it.each([
    ['not json', '{'],
    ['missing tokenId', { amount: '12.00', resource: '/company/detail?id=x' }],
    ['missing resource', { tokenId: 't', amount: '12.00' }],
    ['bad amount', { tokenId: 't', amount: '12.345', resource: '/company/detail?id=x' }],
    ['float amount', { tokenId: 't', amount: 0.30000000000000004, resource: '/company/detail?id=x' }],
    ['negative amount', { tokenId: 't', amount: '-12.00', resource: '/company/detail?id=x' }],
  ])('answers 400 JSON:API on bad input: %s', async (_name, payload) => {
    const res = await pay(app, payload, uniqueKey());
    expect(res.status).toBe(400);
    expect((await body(res)).errors[0]).toMatchObject({ status: '400', code: 'invalid_request', title: expect.any(String), detail: expect.any(String) });
  });

  it('answers 404 for an unknown resource', async () => {
    for (const bad of ['/company/detail?id=co_nope', '/something/else']) {
      const res = await pay(app, { tokenId: 't', amount: '12.00', resource: bad }, uniqueKey());
      expect(res.status).toBe(404);
      expect((await body(res)).errors[0].status).toBe('404');
    }
  });

  it('answers 422 wrong_amount and charges nothing', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const res = await pay(app, { tokenId: token.id, amount: formatAmount(company.priceFen - 50), resource }, uniqueKey());
    expect(res.status).toBe(422);
    const doc = await body(res);
    expect(doc.errors[0]).toMatchObject({ status: '422', code: 'wrong_amount' });
    expect((await tokenOf(token.id)).charges).toHaveLength(0);
  });

  it('passes the issuer declines on: status and code', async () => {
    const small = await createToken(issuerUrl, formatAmount(company.priceFen - 1));
    const poor = await pay(app, { tokenId: small.id, amount: price, resource }, uniqueKey());
    expect(poor.status).toBe(402);
    expect((await body(poor)).errors[0]).toMatchObject({ status: '402', code: 'insufficient_funds' });

    const foreign = await createToken(issuerUrl, '50.00', 'another-merchant');
    const mismatch = await pay(app, { tokenId: foreign.id, amount: price, resource }, uniqueKey());
    expect(mismatch.status).toBe(403);
    expect((await body(mismatch)).errors[0].code).toBe('merchant_mismatch');

    const closed = await createToken(issuerUrl, '50.00');
    await issuerHttp(issuerUrl, 'POST', `/v1/tokens/${closed.id}/close`);
    const late = await pay(app, { tokenId: closed.id, amount: price, resource }, uniqueKey());
    expect(late.status).toBe(409);
    expect((await body(late)).errors[0].code).toBe('token_closed');

    const unknown = await pay(app, { tokenId: 'tok_unknown', amount: price, resource }, uniqueKey());
    expect(unknown.status).toBe(404);
    expect((await body(unknown)).errors[0].code).toBe('not_found');
  });

  it('does not bind the key when the issuer declined, so a retry can succeed', async () => {
    const token = await createToken(issuerUrl, '50.00', 'another-merchant');
    const key = uniqueKey();
    expect((await pay(app, { tokenId: token.id, amount: price, resource }, key)).status).toBe(403);
    const good = await createToken(issuerUrl, '50.00');
    expect((await pay(app, { tokenId: good.id, amount: price, resource }, key)).status).toBe(201);
  });

  it('answers 502 when the issuer is unreachable, and 502 when it refuses our credentials', async () => {
    const offline = createMarketplaceApp({ issuerUrl: 'http://127.0.0.1:1', issuerApiKey: API_KEY, receiptSecret: SECRET });
    const res = await pay(offline, { tokenId: 't', amount: price, resource }, uniqueKey());
    expect(res.status).toBe(502);
    expect((await body(res)).errors[0]).toMatchObject({ status: '502', code: 'issuer_unreachable' });

    const wrongKey = createMarketplaceApp({ issuerUrl, issuerApiKey: 'wrong', receiptSecret: SECRET });
    const token = await createToken(issuerUrl, '50.00');
    const res2 = await pay(wrongKey, { tokenId: token.id, amount: price, resource }, uniqueKey());
    expect(res2.status).toBe(502);
    expect((await body(res2)).errors[0].code).toBe('issuer_auth_failed');
  });

  it('re-derives the same receipt after a marketplace restart thanks to the issuer idempotency', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const key = uniqueKey();
    const first = await body(await pay(app, { tokenId: token.id, amount: price, resource }, key));
    const restarted = createMarketplaceApp({ issuerUrl, issuerApiKey: API_KEY, receiptSecret: SECRET });
    const res = await pay(restarted, { tokenId: token.id, amount: price, resource }, key);
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual(first);
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });

  it('charges once when the same key arrives concurrently', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const key = uniqueKey();
    const answers = await Promise.all(Array.from({ length: 5 }, () => pay(app, { tokenId: token.id, amount: price, resource }, key)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 201]);
    const receipts = new Set(await Promise.all(answers.map(async (r) => (await body(r)).data.attributes.receipt)));
    expect(receipts.size).toBe(1);
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });
});
