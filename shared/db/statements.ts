import type pg from 'pg';
import { statementSent } from '../telemetry/metrics.ts';

/** `begin`, `commit`, `rollback` (kysely sends them as plain statements), else `query`. */
function kindOf(text: string): 'query' | 'begin' | 'commit' | 'rollback' {
  const word = /^\s*([a-z]+)/i.exec(text)?.[1]?.toLowerCase();
  return word === 'begin' || word === 'commit' || word === 'rollback' ? word : 'query';
}

/**
 * Counts every statement a pooled client sends (arp_db_statements_total): what a task costs the
 * database is read from here by operators and by the bench. Installed once per client, when the
 * pool opens it.
 */
export function countStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    statementSent(kindOf(text));
    return query(...args);
  };
}
