import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { dropSchema, isMigrated, migrate, openDatabase } from './index.ts';
import { MIGRATION_NAMES } from './migrate.ts';

const databaseUrl = inject('databaseUrl');

/** Several processes starting at once (gateway, workers) all migrate the same fresh schema. */
describe.skipIf(!databaseUrl)('migrations at start', () => {
  it('are safe when several start at once on a fresh schema, and leave it migrated once', async () => {
    const schema = `t_mig_${randomBytes(4).toString('hex')}`;
    const handles = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 2 })));
    try {
      expect(await isMigrated(handles[0]!)).toBe(false);
      await Promise.all(handles.map((h) => migrate(h)));
      for (const h of handles) expect(await isMigrated(h)).toBe(true);
      const { rows } = await sql<{ name: string }>`select name from ${sql.id(schema)}.kysely_migration order by name`.execute(handles[0]!.db);
      expect(rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
      // And again, as every later start does: nothing to do, nothing breaks.
      await Promise.all(handles.map((h) => migrate(h)));
    } finally {
      await dropSchema(handles[0]!);
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  it('are not upset by other schemas of the database being dropped meanwhile, without our lock', async () => {
    const schema = `t_mig_${randomBytes(4).toString('hex')}`;
    const ours = await openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 2 });
    const other = await openDatabase({ databaseUrl, schema: 'public', dataDir: '/tmp', poolSize: 2 });
    // Someone else's schemas come and go as fast as they can (a tool, another team, a test run):
    // kysely's own check read every table of every schema and failed on one dropped under it.
    let churning = true;
    const churn = (async () => {
      for (let i = 0; churning && i < 500; i++) {
        const name = sql.id(`t_churn_${randomBytes(4).toString('hex')}`);
        await sql`create schema ${name}`.execute(other.db);
        await sql`create table ${name}.t (id serial primary key, note text)`.execute(other.db);
        await sql`drop schema ${name} cascade`.execute(other.db);
      }
    })();
    try {
      await migrate(ours);
      expect(await isMigrated(ours)).toBe(true);
    } finally {
      churning = false;
      await churn;
      await dropSchema(ours);
      await ours.close();
      await other.close();
    }
  });
});

describe.skipIf(!databaseUrl)('migration 2026_11_29_020_agent_decisions', () => {
  it('gives candidates stored before decisions were recorded the decision the ranking made for them', async () => {
    const schema = `t_mig_${randomBytes(4).toString('hex')}`;
    const database = await openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 1 });
    try {
      await sql`create schema ${sql.id(schema)}`.execute(database.db);
      const before = ['2026_11_24_001_initial', '2026_11_24_002_task_sequence', '2026_11_29_001_token_hint', '2026_11_29_002_foreign_charges'];
      for (const name of before) await (await import(`./migrations/${name}.ts`)).up(database.db);
      const id = '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d';
      await sql`insert into tasks (id, tenant, theme, voice_id, currency, max_companies, status, budget_limit) values (${id}, 'acme', 't', 'v', 'CNY', 5, 'completed', 5000)`.execute(database.db);
      const company = (cid: string, status: string, error: string | null) =>
        sql`insert into companies (task_id, company_id, rank, name, industry, city, price, relevance, status, basic, error_code) values (${id}, ${cid}, 1, 'n', 'i', 'c', 100, 1, ${status}, '{}', ${error})`.execute(database.db);
      await company('passed-over', 'skipped', null);
      await company('bought', 'bought', null);
      await company('chosen-then-closed', 'skipped', 'task_closed');
      await company('refunded', 'refunded', 'bad_data');

      await (await import('./migrations/2026_11_29_020_agent_decisions.ts')).up(database.db);

      const { rows } = await sql<{ company_id: string; decision_action: string; decision_by: string; decision_reason: string }>`
        select company_id, decision_action, decision_by, decision_reason from companies order by company_id`.execute(database.db);
      expect(rows.map((r) => [r.company_id, r.decision_action, r.decision_by])).toEqual([
        ['bought', 'buy', 'rules'],
        ['chosen-then-closed', 'buy', 'rules'],
        ['passed-over', 'skip', 'rules'],
        ['refunded', 'buy', 'rules'],
      ]);
      expect(rows.every((r) => r.decision_reason === 'decided by the keyword ranking (before decisions were recorded)')).toBe(true);
    } finally {
      await dropSchema(database);
      await database.close();
    }
  });
});
