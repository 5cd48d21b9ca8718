import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { BasicCompany } from '../providers/index.ts';
import { withTimeout } from '../timeout.ts';

/** The segment of the cache's keys after the system's prefix (`<prefix>:search-cache:…`). */
export const SEARCH_CACHE_KEYS = 'search-cache';

/** How long one cache read or write may take before the search goes on without it. */
const REDIS_BUDGET_MS = 500;

/**
 * The agent's short-term memory: free search results, per tenant and query, in Redis for
 * SEARCH_CACHE_TTL seconds — shared by every worker, so a theme searched again within minutes costs
 * neither time nor a provider call. Keys are `<prefix>:search-cache:<tenant>:<sha256 of the query>`:
 * one tenant never reads another's results (nor learns what another searched), and a query of any
 * length or characters makes a key of fixed shape. A cache that does not answer steps aside (logged):
 * the search asks the marketplace instead.
 */
export class SearchCache {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
  ) {}

  /** The key of one tenant's query (queries differing only in case or spacing share it). */
  key(tenant: string, query: string): string {
    const normalised = query.trim().replace(/\s+/g, ' ').toLowerCase();
    return `${this.prefix}:${SEARCH_CACHE_KEYS}:${tenant}:${createHash('sha256').update(normalised).digest('hex')}`;
  }

  /** The cached results of a query, or the marketplace's (then cached). `hit` says which. */
  async search(tenant: string, query: string, fetch: () => Promise<BasicCompany[]>): Promise<{ results: BasicCompany[]; hit: boolean }> {
    if (this.ttlSeconds <= 0) return { results: await fetch(), hit: false };
    const key = this.key(tenant, query);
    const cached = await this.attempt('read', () => this.redis.get(key));
    if (cached) {
      const results = parse(cached);
      if (results) return { results, hit: true };
    }
    const results = await fetch();
    await this.attempt('write', () => this.redis.set(key, JSON.stringify(results), 'EX', this.ttlSeconds));
    return { results, hit: false };
  }

  private async attempt<T>(what: string, op: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withTimeout(REDIS_BUDGET_MS, op(), 'Redis');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `search cache ${what} skipped`);
      return undefined;
    }
  }
}

/** Cached results as stored by us; anything else (a foreign or damaged value) counts as a miss. */
function parse(text: string): BasicCompany[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return undefined;
    const ok = value.every((c) => c && typeof c.id === 'string' && typeof c.name === 'string' && Number.isSafeInteger(c.price) && Array.isArray(c.tags));
    return ok ? (value as BasicCompany[]) : undefined;
  } catch {
    return undefined;
  }
}
