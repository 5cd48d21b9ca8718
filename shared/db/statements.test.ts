import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { openDatabase } from './index.ts';
import { MAX_PREPARED_PER_CONNECTION } from './statements.ts';
import { statementsSentByKind } from '../../test/support/statements.ts';

const databaseUrl = inject('databaseUrl');

describe.skipIf(!databaseUrl)('statements sent to Postgres', () => {
  it('are counted by kind (arp_db_statements_total): queries, and the transactions that carry them', async () => {
    const db = await openDatabase({ databaseUrl, schema: `t_stmt_${randomBytes(4).toString('hex')}`, dataDir: '/tmp', poolSize: 2 });
    try {
      const before = await statementsSentByKind();
      await sql`select 1`.execute(db.db);
      await db.db.transaction().execute(async (trx) => {
        await sql`select 2`.execute(trx);
        await sql`select 3`.execute(trx);
      });
      await db.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 4`.execute(trx);
          throw new Error('roll it back');
        })
        .catch(() => {});
      const after = await statementsSentByKind();
      const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
      expect({ query: delta('query'), begin: delta('begin'), commit: delta('commit'), rollback: delta('rollback') }).toEqual({ query: 4, begin: 2, commit: 1, rollback: 1 });
    } finally {
      await db.close();
    }
  });
});

describe.skipIf(!databaseUrl)('prepared statements', () => {
  const withOneConnection = async (run: (db: Awaited<ReturnType<typeof openDatabase>>, schema: string) => Promise<void>) => {
    const schema = `t_prep_${randomBytes(4).toString('hex')}`;
    const db = await openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 1 });
    try {
      await sql`create schema ${sql.id(schema)}`.execute(db.db);
      await run(db, schema);
    } finally {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db.db);
      await db.close();
    }
  };
  const prepared = async (db: Awaited<ReturnType<typeof openDatabase>>) =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(db.db)).rows;

  it('a parameterised statement is parsed once per connection and then run by name', async () => {
    await withOneConnection(async (db) => {
      for (let i = 0; i < 5; i++) expect((await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(db.db)).rows[0]!.n).toBe(i + 1);
      const mine = (await prepared(db)).filter((p) => p.statement.includes('::int + 1 as n'));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.name).toMatch(/^arp_[0-9a-f]{20}_0$/);
      // Transaction control is sent as it is.
      await db.db.transaction().execute(async (trx) => void (await sql`select 1`.execute(trx)));
      expect((await prepared(db)).some((p) => /^\s*(begin|commit)/i.test(p.statement))).toBe(false);
    });
  });

  it('a table changed under a prepared statement (a migration on a live system) is prepared afresh, not an error', async () => {
    await withOneConnection(async (db, schema) => {
      await sql`create table ${sql.id(schema, 't')} (id int primary key)`.execute(db.db);
      await sql`insert into ${sql.id(schema, 't')} values (1)`.execute(db.db);
      const read = () => sql<Record<string, unknown>>`select * from ${sql.id(schema, 't')} where id = ${1}`.execute(db.db);
      expect((await read()).rows).toEqual([{ id: 1 }]);
      await sql`alter table ${sql.id(schema, 't')} add column note text default 'added'`.execute(db.db);
      expect((await read()).rows).toEqual([{ id: 1, note: 'added' }]);
      expect((await read()).rows).toEqual([{ id: 1, note: 'added' }]);
    });
  });

  it(`a connection keeps at most ${MAX_PREPARED_PER_CONNECTION} prepared; the statements past that are still answered`, async () => {
    await withOneConnection(async (db) => {
      const n = MAX_PREPARED_PER_CONNECTION + 20;
      for (let i = 0; i < n; i++) expect((await sql<{ n: number }>`select ${i}::int as n, ${sql.raw(String(i))} as k`.execute(db.db)).rows[0]!.n).toBe(i);
      expect((await prepared(db)).length).toBeLessThanOrEqual(MAX_PREPARED_PER_CONNECTION);
    });
  });
});
