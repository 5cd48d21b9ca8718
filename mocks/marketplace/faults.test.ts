import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANIES } from '../data/companies.ts';
import type { FaultConfig } from '../faults.ts';
import type { RunningMocks } from '../index.ts';
import { formatAmount } from '../lib/money.ts';
import { API_KEY, body, createToken, issuerHttp, pay, SECRET, startIssuer, uniqueKey } from '../testing/helpers.ts';
import { createMarketplaceApp } from './app.ts';

let issuer: RunningMocks;
let issuerUrl: string;
const company = COMPANIES[5]!;
const resource = `/company/detail?id=${company.id}`;
const price = formatAmount(company.priceFen);

beforeAll(async () => {
  issuer = await startIssuer();
  issuerUrl = issuer.urls.tokenIssuer!;
});
afterAll(() => issuer.close());

const market = (faults: FaultConfig) => createMarketplaceApp({ issuerUrl, issuerApiKey: API_KEY, receiptSecret: SECRET, faults });
const tokenOf = async (id: string) => body(await issuerHttp(issuerUrl, 'GET', `/v1/tokens/${id}`));

async function receiptFor(tokenId: string): Promise<string> {
  const res = await pay(market({}), { tokenId, amount: price, resource }, uniqueKey());
  expect(res.status).toBe(201);
  return (await body(res)).data.attributes.receipt;
}

describe('marketplace fault injection', () => {
  it('latency_ms delays every request but /healthz', async () => {
    // A long delay, so "not delayed" holds by a wide margin on a loaded machine.
    const app = market({ latency_ms: 1_500 });
    let t = performance.now();
    expect((await app.request('/company/basic?keyword=solar')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(1_490);
    t = performance.now();
    expect((await app.request('/healthz')).status).toBe(200);
    expect(performance.now() - t).toBeLessThan(750);
  });

  it('rate_429 answers 429 with Retry-After: 1 before doing anything, deterministically by seed', async () => {
    const run = async (seed: number) => {
      const app = market({ rate_429: 0.4, seed });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await app.request('/company/basic?keyword=solar');
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.headers.get('retry-after')).toBe('1');
          expect((await body(res)).errors[0]).toMatchObject({ status: '429', code: 'rate_limited' });
        }
      }
      return statuses;
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(await run(43)).not.toEqual(a);
    const limited = a.filter((s) => s === 429).length;
    expect(limited).toBeGreaterThan(0);
    expect(limited).toBeLessThan(40);
    expect(new Set(a)).toEqual(new Set([200, 429]));

    // before doing anything: a rate-limited /pay does not charge
    const token = await createToken(issuerUrl, '50.00');
    const res = await pay(market({ rate_429: 1 }), { tokenId: token.id, amount: price, resource }, uniqueKey());
    expect(res.status).toBe(429);
    expect((await tokenOf(token.id)).charges).toHaveLength(0);
  });

  it('error_5xx answers 503 before doing anything; /healthz is never faulted', async () => {
    const app = market({ error_5xx: 1, rate_429: 1, latency_ms: 0 });
    expect((await app.request('/healthz')).status).toBe(200);
    const token = await createToken(issuerUrl, '50.00');
    const only5xx = market({ error_5xx: 1 });
    const res = await pay(only5xx, { tokenId: token.id, amount: price, resource }, uniqueKey());
    expect(res.status).toBe(503);
    expect((await body(res)).errors[0].code).toBe('service_unavailable');
    expect((await tokenOf(token.id)).charges).toHaveLength(0);
  });

  it('pay_5xx_after_charge takes the money, answers 500, and a retry with the same key gets the receipt for that charge', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const key = uniqueKey();
    const res = await pay(market({ pay_5xx_after_charge: 1 }), { tokenId: token.id, amount: price, resource }, key);
    expect(res.status).toBe(500);
    expect((await body(res)).errors[0].status).toBe('500');
    const charged = await tokenOf(token.id);
    expect(charged.charges).toHaveLength(1);
    expect(charged.spent).toBe(price);

    const retry = await pay(market({}), { tokenId: token.id, amount: price, resource }, key);
    expect([200, 201]).toContain(retry.status);
    expect((await body(retry)).data.attributes.chargeId).toBe(charged.charges[0].id);
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });

  it('pay_timeout charges, then hangs for timeout_hang_ms and never answers a receipt', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const t = performance.now();
    const res = await pay(market({ pay_timeout: 1, timeout_hang_ms: 250 }), { tokenId: token.id, amount: price, resource }, uniqueKey());
    expect(performance.now() - t).toBeGreaterThanOrEqual(240);
    expect(res.status).toBe(504);
    expect((await body(res)).data).toBeUndefined();
    expect((await tokenOf(token.id)).charges).toHaveLength(1);
  });

  it('detail_5xx answers 503 to a paid fetch with a valid receipt (the paywall itself is unaffected)', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const receipt = await receiptFor(token.id);
    const app = market({ detail_5xx: 1 });
    expect((await app.request(`/company/detail?id=${company.id}`)).status).toBe(402);
    const res = await app.request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } });
    expect(res.status).toBe(503);
    expect((await body(res)).errors[0].code).toBe('service_unavailable');
  });

  it('detail_bad_data answers 200 with a record missing its attributes', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const receipt = await receiptFor(token.id);
    const res = await market({ detail_bad_data: 1 }).request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } });
    expect(res.status).toBe(200);
    const doc = await body(res);
    expect(doc.data.type).toBe('company_detail');
    expect(doc.data.attributes).toBeUndefined();
  });

  it('detail_partial answers 200 with a record lacking its financials and shareholders', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const receipt = await receiptFor(token.id);
    const res = await market({ detail_partial: 1 }).request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } });
    expect(res.status).toBe(200);
    const doc = await body(res);
    expect(doc.data.attributes.name).toBe(company.name);
    expect(doc.data.attributes.financials).toBeUndefined();
    expect(doc.data.attributes.shareholders).toBeUndefined();
    expect(doc.data.attributes.contacts).toBeDefined();
  });

  it('paid-detail faults follow the seed', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const receipt = await receiptFor(token.id);
    const run = async () => {
      const app = market({ detail_5xx: 0.5, seed: 5 });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        out.push((await app.request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } })).status);
      }
      return out;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 503]));
  });

  it('detail_gone: a paid fetch of an undeliverable company answers 503 on every retry; others are delivered', async () => {
    const token = await createToken(issuerUrl, '50.00');
    const receipt = await receiptFor(token.id);
    const app = market({ detail_gone: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await app.request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } });
      expect(res.status).toBe(503);
      expect((await body(res)).errors[0].code).toBe('service_unavailable');
    }
    // Without a receipt it is still the ordinary paywall (the fault is on the paid delivery only).
    expect((await app.request(`/company/detail?id=${company.id}`)).status).toBe(402);
    expect((await market({ detail_gone: 0 }).request(`/company/detail?id=${company.id}`, { headers: { 'X-Payment-Receipt': receipt } })).status).toBe(200);
  });
});
