import { createHash } from 'node:crypto';
import type pg from 'pg';
import { statementSent } from '../telemetry/metrics.ts';

/** `begin`, `commit`, `rollback` (kysely sends them as plain statements), else `query`. */
function kindOf(text: string): 'query' | 'begin' | 'commit' | 'rollback' {
  const word = /^\s*([a-z]+)/i.exec(text)?.[1]?.toLowerCase();
  return word === 'begin' || word === 'commit' || word === 'rollback' ? word : 'query';
}

/**
 * The most statements one connection keeps prepared. Kysely writes `in (...)` lists with one parameter
 * per value, so texts vary with list lengths; past this many, a connection sends the rest unnamed (parsed
 * and planned each time, as without preparing) rather than growing the server's memory without bound.
 */
export const MAX_PREPARED_PER_CONNECTION = 500;

/** Postgres refusing a prepared statement whose tables changed shape under it (a migration on a live system). */
const STALE_PLAN = '0A000';

type Query = (...args: unknown[]) => Promise<unknown>;

/**
 * What a pooled client does with each statement, installed once when the pool opens the client:
 * - counts it (arp_db_statements_total): what a task costs the database is read from here by operators
 *   and by the bench;
 * - sends a parameterised statement as a *named prepared statement*, so Postgres parses and plans each
 *   text once per connection instead of on every call (the hot paths run the same few dozen texts).
 *   The name is a digest of the text. Should Postgres refuse a prepared statement because a migration
 *   changed a table it reads ("cached plan must not change result type"), the text gets a new name —
 *   prepared afresh — and is sent once more.
 */
export function instrumentClient(client: pg.PoolClient): void {
  const query = client.query.bind(client) as Query;
  const names = new Map<string, string>();
  let generation = 0;
  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known || names.size >= MAX_PREPARED_PER_CONNECTION) return known;
    const name = `arp_${createHash('sha1').update(text).digest('hex').slice(0, 20)}_${generation}`;
    names.set(text, name);
    return name;
  };
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [first, values] = args;
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    statementSent(kindOf(text));
    // Only kysely's form (text and a parameter array, promise-style) is prepared; anything else passes as it is.
    if (typeof first !== 'string' || !Array.isArray(values) || args.length !== 2 || kindOf(first) !== 'query') return query(...args);
    const name = nameOf(first);
    if (!name) return query(first, values);
    return query({ name, text: first, values }).catch((err: { code?: string }) => {
      if (err?.code !== STALE_PLAN || names.get(first) !== name) throw err;
      generation += 1;
      names.delete(first);
      // Inside a transaction the refusal has aborted it, and this second try fails too: the caller's
      // own retry (a job's, a client's) then finds the new name.
      return query({ name: nameOf(first) ?? undefined, text: first, values }).catch(() => {
        throw err;
      });
    });
  };
}
