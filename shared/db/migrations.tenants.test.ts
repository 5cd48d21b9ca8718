import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropSchema, migrate, openDatabase, type Db } from './index.ts';
import * as tenants from './migrations/2026_11_29_010_tenants.ts';

/**
 * Migration 2026_11_29_010_tenants starts each tenant's day from the books: tenant_spend_daily is
 * backfilled with reserved + captured − refunded of the tasks created that UTC day, so the caps hold
 * for money moved before the migration too.
 */
describe('the tenants migration backfills each day from the books', () => {
  let database: Db;
  beforeAll(async () => {
    database = await openDatabase({ databaseUrl: inject('databaseUrl'), schema: `t_mig10_${randomBytes(4).toString('hex')}`, dataDir: '/tmp', inMemory: true, poolSize: 2 });
    await migrate(database);
  });
  afterAll(async () => {
    await dropSchema(database);
    await database.close();
  });

  it('per tenant and UTC day of creation: reserved + captured − refunded', async () => {
    const db = database.db;
    // Back to before the migration, with books of several tenants and days.
    await tenants.down(db as never);
    const task = (tenant: string, createdAt: string, money: { reserved: number; captured: number; refunded: number }) => ({
      id: randomUUID(), tenant, theme: 't', voice_id: 'v', currency: 'CNY', max_companies: 1, status: 'completed', budget_limit: 100_000, created_at: createdAt, ...money,
    });
    await db.insertInto('tasks').values([
      task('a', '2026-11-27T23:59:59Z', { reserved: 0, captured: 500, refunded: 100 }),
      task('a', '2026-11-28T00:00:00Z', { reserved: 300, captured: 1000, refunded: 0 }),
      task('a', '2026-11-28T15:00:00+08:00', { reserved: 0, captured: 200, refunded: 200 }),
      task('b', '2026-11-28T10:00:00Z', { reserved: 50, captured: 0, refunded: 0 }),
    ] as never).execute();
    await tenants.up(db as never);
    const { rows } = await sql<{ tenant: string; day: string; spend: string }>`select tenant, to_char(day, 'YYYY-MM-DD') as day, spend::text from tenant_spend_daily order by 1, 2`.execute(db);
    expect(rows.map((r) => [r.tenant, r.day, Number(r.spend)])).toEqual([
      ['a', '2026-11-27', 400],
      ['a', '2026-11-28', 1300],
      ['b', '2026-11-28', 50],
    ]);
  });
});
