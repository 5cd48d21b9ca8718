import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cluster } from '../support/cluster.ts';

const databaseUrl = inject('databaseUrl');

/**
 * Bought once per tenant, across processes (issue 11): tasks of one tenant posted at the same moment on
 * one theme, worked by two worker processes on the real Postgres, with marketplace latency widening
 * every race window. Each company they share is charged once in all — the others reuse the purchase from
 * the tenant's memory, or wait for it while it is in flight — and every money invariant still holds.
 */
describe.skipIf(!databaseUrl)('concurrent tasks of one tenant share their purchases (2 worker processes, real Postgres)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = new Cluster({
      redisUrl: inject('redisUrl'),
      databaseUrl: databaseUrl!,
      workers: 2,
      faults: { seed: 11, latency_ms: 80 },
      env: { PROVIDER_TIMEOUT_MS: '5000', DETAIL_CONCURRENCY: '8' },
    });
    await cluster.start();
  }, 60_000);
  afterAll(async () => cluster?.close());

  it('charges each shared company once across all the tasks; every task gets every company it chose', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, () => cluster.post({ theme: 'semiconductor', budget: '100.00', voiceId: 'demo-voice', maxCompanies: 5 })));
    await cluster.waitAllEnded(ids, 90_000);
    await cluster.checkInvariants(ids);

    // The issuer's own books: every charge of every token of these tasks, by the resource it paid for.
    const charged = new Map<string, number>();
    for (const id of ids) for (const t of await cluster.issuer.tokensFor(id)) for (const c of t.charges) charged.set(c.description ?? '', (charged.get(c.description ?? '') ?? 0) + 1);

    const outcomes = new Map<string, string[]>();
    for (const id of ids) {
      expect((await cluster.repos.tasks.get(id))!.status).toBe('completed');
      for (const c of await cluster.repos.companies.chosen(id)) outcomes.set(c.company_id, [...(outcomes.get(c.company_id) ?? []), c.status]);
    }
    expect(outcomes.size).toBe(5);
    for (const [companyId, statuses] of outcomes) {
      // One purchase, three reuses: never a second charge, never a company left without its record.
      expect(statuses.filter((s) => s === 'bought'), companyId).toHaveLength(1);
      expect(statuses.filter((s) => s === 'reused'), companyId).toHaveLength(ids.length - 1);
      expect(charged.get(`/company/detail?id=${companyId}`), companyId).toBe(1);
    }
    expect([...charged.values()].reduce((a, b) => a + b, 0)).toBe(5);
    expect(await cluster.repos.memory.list('acme', { limit: 100 })).toHaveLength(5);
  }, 120_000);
});
