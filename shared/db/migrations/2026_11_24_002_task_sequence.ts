import type { Kysely } from 'kysely';

// Frozen. Listing tasks newest-first needs an exact, total order: created_at is microseconds in
// Postgres but milliseconds in JavaScript, so a cursor built from it could skip tasks. A sequence can't.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('seq', 'bigserial', (c) => c.notNull()).execute();
  await db.schema.createIndex('tasks_tenant_seq').on('tasks').columns(['tenant', 'seq']).execute();
  await db.schema.dropIndex('tasks_tenant_created').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('tasks_tenant_created').on('tasks').columns(['tenant', 'created_at', 'id']).execute();
  await db.schema.dropIndex('tasks_tenant_seq').execute();
  await db.schema.alterTable('tasks').dropColumn('seq').execute();
}
