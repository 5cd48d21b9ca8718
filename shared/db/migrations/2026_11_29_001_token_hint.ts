import { sql, type Kysely } from 'kysely';

// Frozen. The payment token id is now sealed at rest (shared/crypto) and only workers open it; what the
// audit trail shows finance is a hint (prefix and last two characters), kept beside it. Rows written
// before sealing still hold the plain id: their hint is derived here (`npm run rotate-keys` seals them).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('token_hint', 'text').execute();
  await sql`update tasks set token_hint = coalesce(substring(token_id from '^[A-Za-z]{1,8}_'), '') || '…' || right(token_id, 2)
            where token_id is not null and token_id not like 'enc1.%'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tasks').dropColumn('token_hint').execute();
}
