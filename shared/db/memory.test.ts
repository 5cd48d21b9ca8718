import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, runningTask, type Harness } from '../../test/support/harness.ts';
import { paymentKey } from './index.ts';

/**
 * The tenant's memory against the real database: what a delivered purchase leaves behind, retrieval
 * ranked by relevance on a seeded corpus, the listing's order and pages, the purchase claims, forgetting
 * and retention — each scoped to one tenant.
 */
let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

interface Seed {
  name: string;
  industry?: string;
  city?: string;
  tags?: string[];
  summary?: string;
  riskNotes?: string[];
  price?: number;
}

/**
 * A purchase delivered the way the detail stage delivers one (company settled `bought` with its record,
 * payment reserved → captured → delivered), so memory remembers it. Returns the task id.
 */
async function remember(tenant: string, companyId: string, seed: Seed): Promise<string> {
  const taskId = await runningTask(h, { id: randomUUID(), tenant, theme: 'seed', budgetLimit: 100_000 });
  const price = seed.price ?? 1000;
  const industry = seed.industry ?? 'Services';
  const city = seed.city ?? 'Wuhan';
  await h.repos.companies.saveCandidates(taskId, [
    {
      companyId, rank: 1, name: seed.name, industry, city, price, relevance: 1, chosen: true,
      decision: { action: 'buy', reason: 'seed', by: 'rules' }, basic: { tags: seed.tags ?? [], summary: seed.summary ?? '' },
    },
  ]);
  await h.repos.companies.settle(taskId, companyId, 'bought', {
    detail: { name: seed.name, riskNotes: seed.riskNotes ?? [], shareholders: [{ name: 'Zhang Wei', type: 'person', stakePercent: '60.00' }], contacts: { phone: '+86 27 5555 0101' } },
  });
  const resource = `/company/detail?id=${companyId}`;
  const r = await h.repos.payments.reserve({ taskId, companyId, tenant, resource, amount: price, key: paymentKey(taskId, resource) });
  if (r.kind !== 'reserved') throw new Error(r.kind);
  await h.repos.payments.capture(r.payment.id, `ch-${taskId}`);
  await h.repos.payments.attachReceipt(r.payment.id, { receiptId: `rcpt-${companyId}`, receipt: 'proof', expiresAt: new Date(Date.now() + 3600_000) });
  await h.repos.payments.markDelivered(r.payment.id);
  return taskId;
}

const ids = (rows: Array<{ companyId: string }>) => rows.map((r) => r.companyId);

describe('retrieval: the facts most relevant to a theme first', () => {
  const tenant = 'rank-tenant';
  beforeAll(async () => {
    // A seeded corpus: where the theme's words stand decides the order (name, industry and tags, city and summary, risk notes).
    await remember(tenant, 'both-in-name', { name: 'Solid-State Battery Works', industry: 'Batteries', tags: ['solid-state'] });
    await remember(tenant, 'battery-name', { name: 'Ningde Battery Group', industry: 'Batteries', tags: ['lithium-ion'] });
    await remember(tenant, 'battery-industry', { name: 'Qingdao Cells', industry: 'Batteries', tags: ['energy storage'] });
    await remember(tenant, 'battery-summary', { name: 'Hefei Grid Services', industry: 'Utilities', summary: 'installs battery storage for grids' });
    await remember(tenant, 'battery-risk', { name: 'Dalian Shipping', industry: 'Logistics', riskNotes: ['a battery recall at a supplier'] });
    await remember(tenant, 'unrelated', { name: 'Shenzhen Pay', industry: 'Fintech', tags: ['payments'], summary: 'mobile payments' });
  });

  it('ranks the name first, then industry and tags, then the summary, then risk notes; leaves out what does not match', async () => {
    const found = await h.repos.memory.retrieve(tenant, ['solid-state', 'battery'], { exclude: [], limit: 10 });
    expect(ids(found)).toEqual(['both-in-name', 'battery-name', 'battery-industry', 'battery-summary', 'battery-risk']);
    // Stemmed: the plural finds the singular.
    expect(ids(await h.repos.memory.retrieve(tenant, ['batteries'], { exclude: [], limit: 10 }))).toContain('battery-summary');
  });

  it('leaves out the companies the task has already, and keeps to the limit', async () => {
    const found = await h.repos.memory.retrieve(tenant, ['battery'], { exclude: ['both-in-name', 'battery-name'], limit: 2 });
    expect(ids(found)).toEqual(['battery-industry', 'battery-summary']);
  });

  it("never finds another tenant's records, and no personal data is searchable", async () => {
    expect(await h.repos.memory.retrieve('someone-else', ['battery'], { exclude: [], limit: 10 })).toEqual([]);
    // The shareholder's name is in every record's fields, but not in the index.
    expect(await h.repos.memory.retrieve(tenant, ['zhang'], { exclude: [], limit: 10 })).toEqual([]);
    expect(await h.repos.memory.list(tenant, { q: 'Zhang Wei', limit: 10 })).toEqual([]);
  });

  it('the listing with a query: best match first, in pages that neither skip nor repeat', async () => {
    const all = await h.repos.memory.list(tenant, { q: 'battery', limit: 10 });
    expect([...ids(all)].sort()).toEqual(['battery-industry', 'battery-name', 'battery-risk', 'battery-summary', 'both-in-name']);
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.rank).toBeGreaterThanOrEqual(all[i]!.rank);
    expect(all.at(-1)!.companyId).toBe('battery-risk');
    const seen: string[] = [];
    let after;
    for (;;) {
      const page = await h.repos.memory.list(tenant, { q: 'battery', limit: 2, after });
      seen.push(...ids(page));
      if (page.length < 2) break;
      after = { id: page.at(-1)!.id, rank: page.at(-1)!.rank };
    }
    expect(seen).toEqual(ids(all));
  });
});

describe('the listing: the newest record of each company, newest first', () => {
  const tenant = 'list-tenant';

  it('shows a company once, with its newest purchase; pages by id', async () => {
    const firstTask = await remember(tenant, 'c1', { name: 'One', price: 500 });
    await remember(tenant, 'c2', { name: 'Two', price: 700 });
    const again = await remember(tenant, 'c1', { name: 'One', price: 600 });
    const rows = await h.repos.memory.list(tenant, { limit: 10 });
    expect(ids(rows)).toEqual(['c1', 'c2']);
    expect(rows[0]).toMatchObject({ taskId: again, pricePaid: 600, receiptId: 'rcpt-c1', name: 'One' });
    expect(rows[0]!.taskId).not.toBe(firstTask);
    expect(await h.repos.memory.count(tenant, 'c1')).toBe(2);
    const page1 = await h.repos.memory.list(tenant, { limit: 1 });
    const page2 = await h.repos.memory.list(tenant, { limit: 1, after: { id: page1[0]!.id } });
    expect([...ids(page1), ...ids(page2)]).toEqual(['c1', 'c2']);
    expect(await h.repos.memory.list(tenant, { limit: 1, after: { id: page2[0]!.id } })).toEqual([]);
  });
});

describe('claims: one purchase of a company per tenant at a time', () => {
  /** A task of the tenant with the company chosen (status `found`). */
  async function buyer(tenant: string, companyId: string) {
    const taskId = await runningTask(h, { id: randomUUID(), tenant, theme: 'claims', budgetLimit: 10_000 });
    await h.repos.companies.saveCandidates(taskId, [
      { companyId, rank: 1, name: 'X', industry: 'i', city: 'c', price: 100, relevance: 1, chosen: true, decision: { action: 'buy', reason: 'r', by: 'rules' }, basic: {} },
    ]);
    return taskId;
  }

  it('is held while the holder is buying, is its own again on a retry, and passes on once the purchase ended', async () => {
    const a = await buyer('claims-tenant', 'k1');
    const b = await buyer('claims-tenant', 'k1');
    expect(await h.repos.memory.claim('claims-tenant', 'k1', a)).toEqual({ ours: true });
    expect(await h.repos.memory.claim('claims-tenant', 'k1', b)).toEqual({ ours: false, holder: a });
    expect(await h.repos.memory.claim('claims-tenant', 'k1', a)).toEqual({ ours: true });
    // Another tenant's purchase of the same company is no concern of this one.
    expect(await h.repos.memory.claim('claims-other', 'k1', await buyer('claims-other', 'k1'))).toEqual({ ours: true });
    // The holder's purchase ends without a record (skipped): the claim passes on.
    await h.repos.companies.settle(a, 'k1', 'skipped', { error: { code: 'price_changed', message: 'x' } });
    expect(await h.repos.memory.claim('claims-tenant', 'k1', b)).toEqual({ ours: true });
  });

  it('stays held while the holder is charged but has not delivered (company settled, payment captured)', async () => {
    const a = await buyer('claims-tenant', 'k2');
    const b = await buyer('claims-tenant', 'k2');
    expect(await h.repos.memory.claim('claims-tenant', 'k2', a)).toEqual({ ours: true });
    const resource = '/company/detail?id=k2';
    const r = await h.repos.payments.reserve({ taskId: a, companyId: 'k2', tenant: 'claims-tenant', resource, amount: 100, key: paymentKey(a, resource) });
    if (r.kind !== 'reserved') throw new Error(r.kind);
    await h.repos.payments.capture(r.payment.id, 'ch-k2');
    await h.repos.companies.settle(a, 'k2', 'bought', { detail: { name: 'X' } });
    expect(await h.repos.memory.claim('claims-tenant', 'k2', b)).toEqual({ ours: false, holder: a });
    await h.repos.payments.markDelivered(r.payment.id);
    expect(await h.repos.memory.claim('claims-tenant', 'k2', b)).toEqual({ ours: true });
    // By then the record is in memory: the detail stage looks there once more after taking the claim.
    expect(await h.repos.memory.fresh('claims-tenant', 'k2', 60)).toMatchObject({ taskId: a });
  });
});

describe('forgetting and retention', () => {
  it("forget removes the tenant's records and the copies on its tasks; the ledger keeps the money", async () => {
    const taskId = await remember('forget-tenant', 'f1', { name: 'Forget Me', price: 900 });
    const otherTask = await remember('forget-other', 'f1', { name: 'Forget Me', price: 900 });
    const ledgerBefore = await h.repos.payments.ledger(taskId);
    expect(await h.repos.memory.forget('forget-tenant', 'f1')).toEqual({ records: 1, taskCopies: 1, taskIds: [taskId], reports: 0 });
    expect(await h.repos.memory.newest('forget-tenant', 'f1')).toBeUndefined();
    expect((await h.repos.companies.get(taskId, 'f1'))!).toMatchObject({ detail: null, status: 'bought', price: 900 });
    expect(await h.repos.payments.ledger(taskId)).toEqual(ledgerBefore);
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ amount: 900, state: 'delivered' });
    // Another tenant's copy is its own.
    expect(await h.repos.memory.newest('forget-other', 'f1')).toMatchObject({ taskId: otherTask });
    expect((await h.repos.companies.get(otherTask, 'f1'))!.detail).not.toBeNull();
    // Forgetting again finds nothing.
    expect(await h.repos.memory.forget('forget-tenant', 'f1')).toEqual({ records: 0, taskCopies: 0, taskIds: [], reports: 0 });
  });

  it('retention deletes records older than it, and the copies on tasks that ended before it', async () => {
    const old = await remember('retention-tenant', 'r-old', { name: 'Old' });
    const recent = await remember('retention-tenant', 'r-new', { name: 'New' });
    await sql`update memory_records set bought_at = now() - interval '100 days' where task_id = ${old}`.execute(h.database.db);
    await sql`update tasks set status = 'completed', ended_at = now() - interval '100 days' where id = ${old}`.execute(h.database.db);
    await sql`insert into purchase_claims (tenant, company_id, task_id, claimed_at) values ('retention-tenant', 'r-claim', ${old}, now() - interval '100 days')`.execute(h.database.db);
    const purged = await h.repos.memory.purgeOlderThan(90 * 86_400);
    expect(await h.database.db.selectFrom('purchase_claims').select('company_id').where('company_id', '=', 'r-claim').execute()).toEqual([]);
    expect(purged.records).toBeGreaterThanOrEqual(1);
    expect(purged.taskCopies).toBeGreaterThanOrEqual(1);
    expect(await h.repos.memory.newest('retention-tenant', 'r-old')).toBeUndefined();
    expect((await h.repos.companies.get(old, 'r-old'))!.detail).toBeNull();
    expect(await h.repos.memory.newest('retention-tenant', 'r-new')).toMatchObject({ taskId: recent });
    expect((await h.repos.companies.get(recent, 'r-new'))!.detail).not.toBeNull();
  });
});
