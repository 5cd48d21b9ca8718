import type { Kysely } from 'kysely';

// Frozen. Money someone else moved with a task's token (a charge under a key that is not ours), as found
// when the task's money is closed: shown on the operators' dashboard, reported by reconcile.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('foreign_charged', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').dropColumn('foreign_charged').execute();
}
