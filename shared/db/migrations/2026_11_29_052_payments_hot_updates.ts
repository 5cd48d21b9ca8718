import { sql, type Kysely } from 'kysely';

// Frozen. A payment's row is updated at each step of its purchase (captured with its receipt, delivered,
// refunded). `payments_reusable (tenant, resource, state)` was read by the first design of reuse, which
// looked for a delivered payment of the same resource; memory (migration 030) replaced it and nothing has
// read the index since — but every state change still wrote an entry into each of the table's four indexes
// (the change was not HOT). Without it no index covers a column those updates change, and pages are left
// 30 % free so the new row versions fit beside the old.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists payments_reusable`.execute(db);
  await sql`alter table payments set (fillfactor = 70)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table payments reset (fillfactor)`.execute(db);
  await db.schema.createIndex('payments_reusable').on('payments').columns(['tenant', 'resource', 'state']).execute();
}
