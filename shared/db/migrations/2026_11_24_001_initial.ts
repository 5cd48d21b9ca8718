import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tasks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text')
    .addColumn('theme', 'text', (c) => c.notNull())
    .addColumn('voice_id', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('max_companies', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('stage', 'text')
    .addColumn('budget_limit', 'bigint', (c) => c.notNull().check(sql`budget_limit > 0`))
    .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`reserved >= 0`))
    .addColumn('captured', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('released', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('token_id', 'text')
    .addColumn('cancel_requested', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ended_at', 'timestamptz')
    // The money rule, enforced by the database itself: never more out than approved.
    .addCheckConstraint('tasks_within_budget', sql`captured - refunded + reserved <= budget_limit`)
    .addCheckConstraint('tasks_refund_within_capture', sql`refunded >= 0 and refunded <= captured`)
    .execute();
  await db.schema.createIndex('tasks_tenant_idempotency').on('tasks').columns(['tenant', 'idempotency_key']).unique().execute();
  await db.schema.createIndex('tasks_tenant_created').on('tasks').columns(['tenant', 'created_at', 'id']).execute();
  await db.schema.createIndex('tasks_unfinished').on('tasks').columns(['status', 'updated_at']).execute();

  await db.schema
    .createTable('task_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('task_events_task').on('task_events').columns(['task_id', 'id']).execute();

  await db.schema
    .createTable('companies')
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('rank', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('industry', 'text', (c) => c.notNull())
    .addColumn('city', 'text', (c) => c.notNull())
    .addColumn('price', 'bigint', (c) => c.notNull())
    .addColumn('relevance', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('basic', 'jsonb', (c) => c.notNull())
    .addColumn('detail', 'jsonb')
    .addColumn('receipt_id', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('companies_pk', ['task_id', 'company_id'])
    .execute();

  await db.schema
    .createTable('payments')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('restrict'))
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount >= 0`))
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('charge_id', 'text')
    .addColumn('receipt_id', 'text')
    .addColumn('receipt', 'text')
    .addColumn('receipt_expires_at', 'timestamptz')
    .addColumn('refunded_amount', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('reused_payment_id', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('payments_refund_within_amount', sql`refunded_amount >= 0 and refunded_amount <= amount`)
    .execute();
  await db.schema.createIndex('payments_task').on('payments').columns(['task_id']).execute();
  await db.schema.createIndex('payments_reusable').on('payments').columns(['tenant', 'resource', 'state']).execute();

  await db.schema
    .createTable('ledger_entries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('restrict'))
    .addColumn('payment_id', 'bigint', (c) => c.notNull().references('payments.id').onDelete('restrict'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('event_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('ledger_entries_task').on('ledger_entries').columns(['task_id', 'id']).execute();

  await db.schema
    .createTable('reports')
    .addColumn('task_id', 'uuid', (c) => c.primaryKey().references('tasks.id').onDelete('cascade'))
    .addColumn('markdown', 'text', (c) => c.notNull())
    .addColumn('writer', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('budget_usage')
    .addColumn('task_id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('captured', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('released', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('events', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('budget_usage_daily')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('captured', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('released', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('events', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('budget_usage_daily_pk', ['tenant', 'day'])
    .execute();

  await db.schema
    .createTable('dashboard_applied')
    .addColumn('ledger_entry_id', 'bigint', (c) => c.primaryKey())
    .addColumn('applied_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['dashboard_applied', 'budget_usage_daily', 'budget_usage', 'reports', 'ledger_entries', 'payments', 'companies', 'task_events', 'tasks']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
