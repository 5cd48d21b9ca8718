import { sql, type Kysely } from 'kysely';

// Frozen. Tenants as first-class (issue 8): API keys kept in Postgres (only their SHA-256 digest), each
// tenant's spending-policy overrides, and each tenant's spend per UTC day of its tasks' creation —
// the row every reservation moves in the same transaction as the task's own budget, so the daily cap
// holds across concurrent tasks. Backfilled from the books, so the counters agree with them from the start.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    // Hex SHA-256 of the key: a presented key is found by its digest; the key itself is never stored.
    .addColumn('key_digest', 'text', (c) => c.notNull().unique())
    // The key's prefix and last four characters (`arp_…x9Qz`), so operators can tell keys apart.
    .addColumn('hint', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .execute();
  await db.schema.createIndex('api_keys_tenant').on('api_keys').columns(['tenant', 'created_at']).execute();

  await db.schema
    .createTable('tenant_policies')
    .addColumn('tenant', 'text', (c) => c.primaryKey())
    // null: the configured default (TENANT_*).
    .addColumn('tasks_per_minute', 'integer', (c) => c.check(sql`tasks_per_minute > 0`))
    .addColumn('open_tasks', 'integer', (c) => c.check(sql`open_tasks > 0`))
    .addColumn('max_budget', 'bigint', (c) => c.check(sql`max_budget > 0`))
    .addColumn('daily_spend', 'bigint', (c) => c.check(sql`daily_spend > 0`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('tenant_spend_daily')
    .addColumn('tenant', 'text', (c) => c.notNull())
    // The UTC day the tasks were created on: a task's whole spend counts against the day it was posted.
    .addColumn('day', 'date', (c) => c.notNull())
    // reserved + captured − refunded of that day's tasks, in fen.
    .addColumn('spend', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`spend >= 0`))
    .addPrimaryKeyConstraint('tenant_spend_daily_pk', ['tenant', 'day'])
    .execute();
  await sql`insert into tenant_spend_daily (tenant, day, spend)
            select tenant, (created_at at time zone 'UTC')::date, sum(reserved + captured - refunded)
            from tasks group by 1, 2`.execute(db);

  // Counting a tenant's open tasks at every submission.
  await db.schema
    .createIndex('tasks_tenant_open')
    .on('tasks')
    .column('tenant')
    .where(sql.ref('status'), 'in', ['queued', 'running'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('tasks_tenant_open').ifExists().execute();
  for (const t of ['tenant_spend_daily', 'tenant_policies', 'api_keys']) await db.schema.dropTable(t).ifExists().execute();
}
