import { sql, type Kysely } from 'kysely';

// Frozen. A task's story is written and read by (task_id, seq) since migration 040; its surrogate `id`
// (a sequence draw and a primary-key entry for each of a task's ~40 events) was read by nothing. The
// (task_id, seq) pair becomes the primary key, and `id` goes.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table task_events drop constraint task_events_pkey`.execute(db);
  await sql`alter table task_events drop column id`.execute(db);
  await sql`alter table task_events add constraint task_events_pkey primary key using index task_events_task_seq`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table task_events drop constraint task_events_pkey`.execute(db);
  await sql`create unique index task_events_task_seq on task_events (task_id, seq)`.execute(db);
  await sql`alter table task_events add column id bigserial primary key`.execute(db);
}
