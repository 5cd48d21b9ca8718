import { sql, type Kysely } from 'kysely';

// Frozen. The agent's decision about each candidate (buy or skip, why, and whether the model or our rules
// made it), and each task's search plan (the queries, who planned them, and what the rules clipped).
// Candidates stored before decisions were recorded get the decision the keyword ranking made for them.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('companies')
    .addColumn('decision_action', 'text', (c) => c.check(sql`decision_action in ('buy', 'skip')`))
    .addColumn('decision_reason', 'text')
    .addColumn('decision_by', 'text', (c) => c.check(sql`decision_by in ('model', 'rules')`))
    .execute();
  await sql`update companies set decision_by = 'rules',
              decision_action = case when status = 'skipped' and error_code is null then 'skip' else 'buy' end,
              decision_reason = 'decided by the keyword ranking (before decisions were recorded)'`.execute(db);

  await db.schema
    .createTable('agent_plans')
    .addColumn('task_id', 'uuid', (c) => c.primaryKey().references('tasks.id').onDelete('cascade'))
    .addColumn('queries', 'jsonb', (c) => c.notNull())
    .addColumn('planned_by', 'text', (c) => c.notNull().check(sql`planned_by in ('model', 'rules')`))
    .addColumn('decided_by', 'text', (c) => c.check(sql`decided_by in ('model', 'rules')`))
    .addColumn('notes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('agent_plans').execute();
  await db.schema.alterTable('companies').dropColumn('decision_action').dropColumn('decision_reason').dropColumn('decision_by').execute();
}
