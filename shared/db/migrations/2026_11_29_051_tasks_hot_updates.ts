import { sql, type Kysely } from 'kysely';

// Frozen. A task's row is updated a dozen times in its life (stages, budget buckets, the event sequence).
// Postgres can make such an update HOT — a new row version on the same page, no index touched — only when
// no indexed column changes and the page has room. `tasks_unfinished (status, updated_at)` indexed a
// column every update changes; the sweeper's look for stale tasks reads the open tasks through a partial
// index on their id instead (status changes twice in a task's life: to running, to its end), and pages
// are left 30 % free for the new versions.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists tasks_unfinished`.execute(db);
  await sql`create index tasks_open on tasks (id) where status in ('queued', 'running')`.execute(db);
  await sql`alter table tasks set (fillfactor = 70)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table tasks reset (fillfactor)`.execute(db);
  await sql`drop index if exists tasks_open`.execute(db);
  await sql`create index tasks_unfinished on tasks (status, updated_at)`.execute(db);
}
