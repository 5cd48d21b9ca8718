import { sql, type Kysely } from 'kysely';

// Frozen. Every language-model call a task made: what for, which model, tokens in and out, and its cost
// in integer micro-dollars (USD × 10⁶, rounded up per call) from LLM_PRICES at the time of the call;
// null when the model had no price. Not charged to the task's budget.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('model_calls')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'integer', (c) => c.notNull().check(sql`input_tokens >= 0`))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().check(sql`output_tokens >= 0`))
    .addColumn('cost_micro_usd', 'bigint', (c) => c.check(sql`cost_micro_usd >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('model_calls_task').on('model_calls').columns(['task_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('model_calls').execute();
}
