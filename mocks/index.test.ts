import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMocks, type RunningMocks } from './index.ts';
import { API_KEY, body, issuerHttp, SECRET } from './testing/helpers.ts';

let mocks: RunningMocks;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mocks-'));
  mocks = await startMocks({ only: ['marketplace', 'tokenIssuer'], issuerApiKey: API_KEY, receiptSecret: SECRET, dataDir, faults: {} });
});
afterAll(async () => {
  await mocks.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startMocks: marketplace and issuer over real HTTP', () => {
  it('starts only what was asked, on free loopback ports', () => {
    expect(Object.keys(mocks.urls).sort()).toEqual(['marketplace', 'tokenIssuer']);
    for (const url of Object.values(mocks.urls)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('search → 402 → pay → receipt → detail, with the money at the issuer', async () => {
    const market = mocks.urls.marketplace!;
    const issuer = mocks.urls.tokenIssuer!;
    const found = await body(await fetch(`${market}/company/basic?keyword=batteries`));
    expect(found.meta.total).toBeGreaterThan(0);
    const company = found.data[0];

    const wall = await fetch(`${market}/company/detail?id=${company.id}`);
    expect(wall.status).toBe(402);
    const { meta } = await body(wall);
    expect(meta.price).toEqual(company.attributes.price);

    const token = await body(await issuerHttp(issuer, 'POST', '/v1/tokens', { amount: '50.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-e2e' }));
    const paid = await fetch(`${market}${meta.pay.href}`, {
      method: meta.pay.method,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'task-e2e:company' },
      body: JSON.stringify({ tokenId: token.id, amount: meta.price.amount, resource: meta.resource }),
    });
    expect(paid.status).toBe(201);
    const receipt = await body(paid);

    const record = await fetch(`${market}${meta.resource}`, { headers: { 'X-Payment-Receipt': receipt.data.attributes.receipt } });
    expect(record.status).toBe(200);
    expect((await body(record)).data.attributes.name).toBe(company.attributes.name);

    const audit = await body(await issuerHttp(issuer, 'GET', '/v1/tokens?reference=task-e2e'));
    expect(audit.data).toHaveLength(1);
    expect(audit.data[0].spent).toBe(meta.price.amount);
    expect(audit.data[0].charges[0]).toMatchObject({ id: receipt.data.attributes.chargeId, description: meta.resource, idempotencyKey: 'task-e2e:company' });
  });

  it('keeps the issuer books in dataDir across a restart', async () => {
    const before = await body(await issuerHttp(mocks.urls.tokenIssuer!, 'GET', '/v1/tokens'));
    const again = await startMocks({ only: ['tokenIssuer'], issuerApiKey: API_KEY, dataDir });
    try {
      expect(await body(await issuerHttp(again.urls.tokenIssuer!, 'GET', '/v1/tokens'))).toEqual(before);
    } finally {
      await again.close();
    }
  });
});

describe('startMocks: options', () => {
  it('refuses a marketplace with no issuer', async () => {
    await expect(startMocks({ only: ['marketplace'] })).rejects.toThrow(/issuer/);
  });

  it('serves the marketplace against an issuer given by URL, and frees ports on close', async () => {
    const issuer = await startMocks({ only: ['tokenIssuer'], issuerApiKey: API_KEY });
    const market = await startMocks({ only: ['marketplace'], issuerUrl: issuer.urls.tokenIssuer!, issuerApiKey: API_KEY, faults: {} });
    const port = Number(new URL(market.urls.marketplace!).port);
    expect((await fetch(`${market.urls.marketplace}/healthz`)).status).toBe(200);
    await market.close();
    await issuer.close();
    const reused = await startMocks({ only: ['voiceid'], ports: { voiceid: port } });
    expect(reused.urls.voiceid).toBe(`http://127.0.0.1:${port}`);
    await reused.close();
  });

  it('fails cleanly when a port is taken', async () => {
    const first = await startMocks({ only: ['voiceid'] });
    const port = Number(new URL(first.urls.voiceid!).port);
    await expect(startMocks({ only: ['voiceid', 'llm'], ports: { voiceid: port } })).rejects.toThrow(/EADDRINUSE/);
    await first.close();
  });
});
