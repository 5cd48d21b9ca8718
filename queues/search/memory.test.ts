import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BasicCompany } from '../../shared/providers/index.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../../test/support/stages.ts';
import type { StageDeps } from '../deps.ts';
import { processDetail } from '../detail/processor.ts';
import { processSearch } from './processor.ts';

/**
 * The search stage and the tenant's memory (issue 11): a record the tenant owns is offered to the rules
 * at what buying it costs now — nothing — and free search results are cached per tenant and query in
 * Redis, so a theme searched again within SEARCH_CACHE_TTL costs no provider call.
 */
let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

/** The data of a task's `searched` event. */
async function searchedEvent(taskId: string): Promise<Record<string, unknown>> {
  const row = await h.database.db.selectFrom('task_events').select('data').where('task_id', '=', taskId).where('kind', '=', 'searched').executeTakeFirstOrThrow();
  return (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as Record<string, unknown>;
}

/** Stage deps whose marketplace counts the free searches it is asked for. */
function counting(): { deps: StageDeps; searches: string[] } {
  const searches: string[] = [];
  const marketplace = h.deps.providers.marketplace;
  const deps: StageDeps = {
    ...h.deps,
    providers: {
      ...h.deps.providers,
      marketplace: Object.assign(Object.create(marketplace), {
        search: async (query: string, signal?: AbortSignal): Promise<BasicCompany[]> => {
          searches.push(query);
          return marketplace.search(query, signal);
        },
      }),
    },
  };
  return { deps, searches };
}

describe('search: what the tenant owns costs nothing now', () => {
  it('chooses owned companies at no cost beyond what the budget alone would buy; the stored price stays the listing', async () => {
    // The tenant buys the top three robotics companies.
    const earlier = await readyForDetail(h, { theme: 'robotics', budget: '100.00', maxCompanies: 3 });
    for (const companyId of earlier.companyIds) await processDetail({ taskId: earlier.taskId, companyId }, h.deps, FIRST_ATTEMPT);
    const owned = await h.repos.companies.list(earlier.taskId).then((cs) => cs.filter((c) => earlier.companyIds.includes(c.company_id)));
    expect(owned.every((c) => c.status === 'bought')).toBe(true);
    const cheapest = Math.min(...owned.map((c) => c.price));

    // A budget below the cheapest of them: alone it could not buy any of the three.
    const budget = ((cheapest - 1) / 100).toFixed(2);
    const id = await postTask(h, { theme: 'robotics', budget, voiceId: 'demo-voice', maxCompanies: 3 });
    await processSearch({ taskId: id }, h.deps, FIRST_ATTEMPT);
    const chosen = await h.repos.companies.chosen(id);
    expect(chosen.map((c) => c.company_id)).toEqual(earlier.companyIds);
    for (const c of chosen) {
      expect(c.price).toBe(owned.find((o) => o.company_id === c.company_id)!.price);
      expect(c.decision_reason).toMatch(/owned \(bought \d+ s ago\), costs nothing now/);
    }
    expect(await searchedEvent(id)).toMatchObject({ chosen: 3, owned: 3 });
  });

  it('with maxAge 0 nothing is owned: the budget decides alone', async () => {
    const id = await postTask(h, { theme: 'robotics', budget: '1.00', voiceId: 'demo-voice', maxCompanies: 3, maxAge: 0 });
    await processSearch({ taskId: id }, h.deps, FIRST_ATTEMPT);
    expect(await h.repos.companies.chosen(id)).toEqual([]);
  });

  it("another tenant's purchases are not its own", async () => {
    const id = await postTask(h, { theme: 'robotics', budget: '1.00', voiceId: 'demo-voice', maxCompanies: 3 }, { authorization: 'Bearer other-key' });
    await processSearch({ taskId: id }, h.deps, FIRST_ATTEMPT);
    expect(await h.repos.companies.chosen(id)).toEqual([]);
  });
});

describe('search: the short-term cache (Redis, per tenant and query)', () => {
  it("a theme searched again by the tenant costs no provider call; another tenant's search is its own", async () => {
    const { deps, searches } = counting();
    const a = await postTask(h, { theme: 'cold-chain logistics', budget: '50.00', voiceId: 'demo-voice' });
    await processSearch({ taskId: a }, deps, FIRST_ATTEMPT);
    const asked = searches.length;
    expect(asked).toBeGreaterThan(0);

    const again = await postTask(h, { theme: 'Cold-chain  logistics', budget: '50.00', voiceId: 'demo-voice' });
    await processSearch({ taskId: again }, deps, FIRST_ATTEMPT);
    expect(searches).toHaveLength(asked);
    // The same candidates, from the cache.
    const ids = async (taskId: string) => (await h.repos.companies.list(taskId)).map((c) => c.company_id);
    expect(await ids(again)).toEqual(await ids(a));
    expect(await searchedEvent(again)).toMatchObject({ cachedSearches: asked });

    const other = await postTask(h, { theme: 'cold-chain logistics', budget: '50.00', voiceId: 'demo-voice' }, { authorization: 'Bearer other-key' });
    await processSearch({ taskId: other }, deps, FIRST_ATTEMPT);
    expect(searches).toHaveLength(asked * 2);
  });

  it("keys are per tenant, of fixed shape whatever the query, and expire after SEARCH_CACHE_TTL", async () => {
    const cache = h.deps.searchCache;
    const q = 'battery */ ¿ \n {x} *';
    expect(cache.key('acme', q)).not.toBe(cache.key('other', q));
    expect(cache.key('acme', q)).toMatch(new RegExp(`^${h.config.QUEUE_PREFIX}:search-cache:acme:[0-9a-f]{64}$`));
    await cache.search('acme', q, async () => []);
    const ttl = await h.redis.ttl(cache.key('acme', q));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(h.config.SEARCH_CACHE_TTL);
    expect(await h.redis.exists(cache.key('other', q))).toBe(0);
  });

  it('a value in the cache that is not a list of results is a miss, not an answer', async () => {
    const cache = h.deps.searchCache;
    await h.redis.set(cache.key('acme', 'damaged'), '{"not":"a list"}', 'EX', 60);
    const fresh = [{ id: 'x', name: 'X', industry: 'i', city: 'c', tags: [], price: 100, attributes: {} }];
    expect(await cache.search('acme', 'damaged', async () => fresh)).toEqual({ results: fresh, hit: false });
    expect(await cache.search('acme', 'damaged', async () => [])).toEqual({ results: fresh, hit: true });
  });
});
