import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../test/support/harness.ts';

/**
 * The rows updated at every step of a task (issue 16): those updates stay HOT (no index touched) only
 * while no index of the table covers a column they change, in its keys or its predicate, and its pages
 * have room for the new row versions.
 */
const CHANGED_AT_EVERY_STEP = {
  // Stages, budget buckets, the event sequence, the token.
  tasks: ['updated_at', 'event_seq', 'stage', 'reserved', 'captured', 'refunded', 'released', 'token_id', 'token_hint', 'foreign_charged'],
  // A purchase: captured with its receipt, delivered, refunded (an intent first), or released with its reason.
  payments: ['updated_at', 'state', 'charge_id', 'receipt_id', 'receipt', 'receipt_expires_at', 'refunded_amount', 'pending_refund_key', 'pending_refund_amount', 'last_error'],
};

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

describe.each(Object.entries(CHANGED_AT_EVERY_STEP))('the %s table', (table, changed) => {
  it('has no index over a column its every-step updates change, and leaves its pages room for new row versions', async () => {
    const relation = `${h.config.DATABASE_SCHEMA}.${table}`;
    const { rows } = await sql<{ name: string; definition: string }>`
      select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
      from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = ${relation}::regclass`.execute(h.database.db);
    expect(rows.length).toBeGreaterThan(2);
    for (const { name, definition } of rows) {
      for (const column of changed) expect(`${name}: ${definition}`).not.toMatch(new RegExp(`\\b${column}\\b`));
    }
    const options = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = ${relation}::regclass`.execute(h.database.db);
    expect(options.rows[0]!.reloptions).toContain('fillfactor=70');
  });
});

describe('the task_events table (~40 rows a task)', () => {
  it('is keyed by (task_id, seq) alone, the key it is written and read by: one index entry an event, no sequence drawn', async () => {
    const relation = `${h.config.DATABASE_SCHEMA}.task_events`;
    const { rows } = await sql<{ definition: string; primary: boolean }>`
      select pg_get_indexdef(i.indexrelid) as definition, i.indisprimary as primary
      from pg_index i where i.indrelid = ${relation}::regclass`.execute(h.database.db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.primary).toBe(true);
    expect(rows[0]!.definition).toMatch(/\(task_id, seq\)$/);
    const defaults = await sql<{ column_name: string }>`
      select column_name from information_schema.columns
      where table_schema = ${h.config.DATABASE_SCHEMA} and table_name = 'task_events' and column_default like 'nextval%'`.execute(h.database.db);
    expect(defaults.rows).toEqual([]);
  });
});
