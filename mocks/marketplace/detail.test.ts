import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANIES } from '../data/companies.ts';
import type { RunningMocks } from '../index.ts';
import { formatAmount } from '../lib/money.ts';
import { API_KEY, body, createToken, pay, SECRET, startIssuer, uniqueKey } from '../testing/helpers.ts';
import { createMarketplaceApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/marketplace/openapi.yaml) in every answer below. */
const createMarketplaceApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'marketplace');
import { signReceipt } from './receipt.ts';

let issuer: RunningMocks;
let clock = Date.now();
let app: ReturnType<typeof createMarketplaceApp>;
const [first, second] = [COMPANIES[3]!, COMPANIES[40]!];

beforeAll(async () => {
  issuer = await startIssuer();
  app = createMarketplaceApp({ issuerUrl: issuer.urls.tokenIssuer!, issuerApiKey: API_KEY, receiptSecret: SECRET, now: () => clock });
});
afterAll(() => issuer.close());

async function buy(companyId: string, priceFen: number): Promise<string> {
  const token = await createToken(issuer.urls.tokenIssuer!, '100.00');
  const res = await pay(app, { tokenId: token.id, amount: formatAmount(priceFen), resource: `/company/detail?id=${companyId}` }, uniqueKey());
  expect(res.status).toBe(201);
  return (await body(res)).data.attributes.receipt;
}

const detail = (id: string, receipt?: string) =>
  app.request(`/company/detail?id=${id}`, receipt === undefined ? {} : { headers: { 'X-Payment-Receipt': receipt } });

describe('GET /company/detail', () => {
  it('answers 404 for an unknown id and 400 without one', async () => {
    const res = await detail('co_does_not_exist');
    expect(res.status).toBe(404);
    expect((await body(res)).errors[0]).toMatchObject({ status: '404', code: 'not_found' });
    expect((await app.request('/company/detail')).status).toBe(400);
  });

  it('answers the 402 paywall exactly as the contract says', async () => {
    const res = await detail(first.id);
    expect(res.status).toBe(402);
    const doc = await body(res);
    expect(doc.errors).toHaveLength(1);
    expect(doc.errors[0]).toEqual({ status: '402', code: 'payment_required', title: expect.any(String), detail: expect.any(String) });
    expect(doc.meta).toEqual({
      price: { amount: formatAmount(first.priceFen), currency: 'CNY' },
      resource: `/company/detail?id=${first.id}`,
      pay: { method: 'POST', href: '/pay' },
    });
  });

  it('answers the record with a valid receipt, again and again until it expires', async () => {
    const receipt = await buy(first.id, first.priceFen);
    for (let i = 0; i < 2; i++) {
      const res = await detail(first.id, receipt);
      expect(res.status).toBe(200);
      const doc = await body(res);
      expect(doc.data).toMatchObject({ type: 'company_detail', id: first.id });
      expect(doc.data.attributes).toMatchObject({
        name: first.name,
        legalRepresentative: expect.any(String),
        registeredCapital: { amount: expect.stringMatching(/^\d+\.\d{2}$/), currency: 'CNY' },
        patentCount: expect.any(Number),
      });
      expect(doc.data.attributes.shareholders.length).toBeGreaterThan(0);
      expect(doc.data.attributes.financials.length).toBe(3);
    }
  });

  it('refuses a receipt bought for another company with 402', async () => {
    const receipt = await buy(second.id, second.priceFen);
    expect((await detail(second.id, receipt)).status).toBe(200);
    const res = await detail(first.id, receipt);
    expect(res.status).toBe(402);
    const doc = await body(res);
    expect(doc.errors[0].code).toBe('payment_required');
    expect(doc.meta.receiptError).toBe('wrong_resource');
  });

  it('refuses forged receipts with 402', async () => {
    const genuine = await buy(first.id, first.priceFen);
    const [payload, signature] = genuine.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const otherPayload = Buffer.from(JSON.stringify({ ...claims, resource: `/company/detail?id=${second.id}` })).toString('base64url');
    const forged = [
      signReceipt('not-the-secret', { ...claims }),
      `${otherPayload}.${signature}`,
      `${payload}.${signature.slice(0, -2)}AA`,
      'garbage',
      `${payload}`,
    ];
    for (const receipt of forged) {
      const res = await detail(first.id, receipt);
      expect(res.status).toBe(402);
      expect((await body(res)).errors[0].code).toBe('payment_required');
    }
  });

  it('refuses a receipt bound to another amount', async () => {
    const claims = {
      v: 1 as const,
      resource: `/company/detail?id=${first.id}`,
      amount: formatAmount(first.priceFen + 100),
      currency: 'CNY',
      chargeId: 'ch_x',
      expiresAt: new Date(clock + 60_000).toISOString(),
    };
    const res = await detail(first.id, signReceipt(SECRET, claims));
    expect(res.status).toBe(402);
    expect((await body(res)).meta.receiptError).toBe('wrong_amount');
  });

  it('refuses an expired receipt (24 h) with 402', async () => {
    const receipt = await buy(first.id, first.priceFen);
    const saved = clock;
    try {
      clock = saved + 23 * 3600_000;
      expect((await detail(first.id, receipt)).status).toBe(200);
      clock = saved + 24 * 3600_000 + 60_000;
      const res = await detail(first.id, receipt);
      expect(res.status).toBe(402);
      expect((await body(res)).meta.receiptError).toBe('expired');
    } finally {
      clock = saved;
    }
  });
});
