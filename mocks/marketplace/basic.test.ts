import { describe, expect, it } from 'vitest';
import { COMPANIES } from '../data/companies.ts';
import { body, SECRET } from '../testing/helpers.ts';
import { createMarketplaceApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/marketplace/openapi.yaml) in every answer below. */
const createMarketplaceApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'marketplace');

const app = createMarketplaceApp({ issuerUrl: 'http://127.0.0.1:9', issuerApiKey: 'unused', receiptSecret: SECRET });
const search = async (keyword: string) => {
  const res = await app.request(`/company/basic?keyword=${encodeURIComponent(keyword)}`);
  expect(res.status).toBe(200);
  return body(res);
};
const ids = (doc: { data: Array<{ id: string }> }) => doc.data.map((d) => d.id).sort();

describe('GET /company/basic', () => {
  it('answers a JSON:API list of company_basic with meta.total and a price', async () => {
    const doc = await search('battery');
    expect(doc.meta.total).toBe(doc.data.length);
    expect(doc.data.length).toBeGreaterThanOrEqual(25);
    for (const item of doc.data) {
      expect(item.type).toBe('company_basic');
      expect(typeof item.id).toBe('string');
      expect(item.attributes).toMatchObject({
        name: expect.any(String),
        industry: expect.any(String),
        city: expect.any(String),
        tags: expect.any(Array),
        summary: expect.any(String),
        founded: expect.any(Number),
        employees: expect.any(Number),
        revenueBand: expect.any(String),
      });
      expect(item.attributes.price.currency).toBe('CNY');
      expect(item.attributes.price.amount).toMatch(/^\d+\.\d{2}$/);
      expect(Number(item.attributes.price.amount)).toBeGreaterThanOrEqual(3);
      expect(Number(item.attributes.price.amount)).toBeLessThanOrEqual(20);
    }
  });

  it('finds every company of the Batteries industry with "battery"', async () => {
    const found = new Set((await search('battery')).data.map((d: { id: string }) => d.id));
    const batteries = COMPANIES.filter((c) => c.industry === 'Batteries');
    expect(batteries.length).toBeGreaterThan(0);
    for (const c of batteries) expect(found).toContain(c.id);
  });

  it('matches singular and plural, in any case', async () => {
    const battery = ids(await search('battery'));
    expect(ids(await search('Batteries'))).toEqual(battery);
    expect(ids(await search('BATTERY'))).toEqual(battery);
    const semi = ids(await search('semiconductor'));
    expect(semi.length).toBeGreaterThan(0);
    expect(ids(await search('Semiconductors'))).toEqual(semi);
    const semiconductorIndustry = COMPANIES.filter((c) => c.industry === 'Semiconductors').map((c) => c.id);
    for (const id of semiconductorIndustry) expect(semi).toContain(id);
  });

  it('matches tags, including hyphenated ones', async () => {
    const tagged = COMPANIES.filter((c) => c.tags.includes('solid-state')).map((c) => c.id).sort();
    expect(tagged.length).toBeGreaterThan(0);
    const found = ids(await search('solid-state'));
    for (const id of tagged) expect(found).toContain(id);
    const ev = ids(await search('ev'));
    for (const c of COMPANIES.filter((c) => c.tags.includes('EV'))) expect(ev).toContain(c.id);
  });

  it('matches names', async () => {
    const target = COMPANIES[100]!;
    const found = (await search(target.name)).data.map((d: { id: string }) => d.id);
    expect(found[0]).toBe(target.id);
  });

  it('requires every meaningful word of a multi-word keyword and ignores filler words', async () => {
    const doc = await search('solid-state battery makers');
    expect(doc.data.length).toBeGreaterThan(0);
    for (const item of doc.data) expect(item.attributes.tags).toContain('solid-state');
    expect(doc.data.length).toBeLessThan((await search('battery')).data.length);
  });

  it('answers an empty list when nothing matches', async () => {
    const doc = await search('zeppelin');
    expect(doc).toEqual({ data: [], meta: { total: 0, keyword: 'zeppelin' } });
  });

  it('answers 400 JSON:API without a keyword', async () => {
    for (const path of ['/company/basic', '/company/basic?keyword=', '/company/basic?keyword=%20']) {
      const res = await app.request(path);
      expect(res.status).toBe(400);
      const doc = await body(res);
      expect(doc.errors[0]).toMatchObject({ status: '400', code: 'invalid_request', title: expect.any(String), detail: expect.any(String) });
    }
  });

  it('serves /healthz and answers JSON:API 404 on unknown routes', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    expect((await body(res)).errors[0].code).toBe('not_found');
  });
});
