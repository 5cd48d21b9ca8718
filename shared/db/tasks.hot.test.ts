import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../test/support/harness.ts';

/**
 * The task row is updated at every step of a task (issue 16): those updates stay HOT (no index touched)
 * only while no index of the table covers a column they change, in its keys or its predicate.
 */
const CHANGED_AT_EVERY_STEP = ['updated_at', 'event_seq', 'stage', 'reserved', 'captured', 'refunded', 'released', 'token_id', 'token_hint', 'foreign_charged'];

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

describe('the tasks table', () => {
  it('has no index over a column its every-step updates change, and leaves its pages room for new row versions', async () => {
    const { rows } = await sql<{ name: string; definition: string }>`
      select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
      from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = ${`${h.config.DATABASE_SCHEMA}.tasks`}::regclass`.execute(h.database.db);
    expect(rows.length).toBeGreaterThan(3);
    for (const { name, definition } of rows) {
      for (const column of CHANGED_AT_EVERY_STEP) expect(`${name}: ${definition}`).not.toMatch(new RegExp(`\\b${column}\\b`));
    }
    const options = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = ${`${h.config.DATABASE_SCHEMA}.tasks`}::regclass`.execute(h.database.db);
    expect(options.rows[0]!.reloptions).toContain('fillfactor=70');
  });
});
