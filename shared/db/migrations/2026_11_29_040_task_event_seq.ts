import { sql, type Kysely } from 'kysely';

// Frozen. One event log per task (issue 13): every event gets `seq`, the task's own sequence (1, 2, 3…),
// drawn from `tasks.event_seq` in the transaction that writes the event. Drawing it updates the task row,
// so a task's events commit in `seq` order and a reader that has seen `seq` n has seen every event before
// it (the stream's replay and live follow rely on that). Events written before this get their sequence
// in the order they were written. No secret in any event: `token_issued` keeps neither a token id nor a
// hint of one (the payments audit trail still shows finance the hint).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table tasks add column event_seq bigint not null default 0`.execute(db);
  await sql`alter table task_events add column seq bigint`.execute(db);
  await sql`update task_events e set seq = r.n
            from (select id, row_number() over (partition by task_id order by id) as n from task_events) r
            where e.id = r.id`.execute(db);
  await sql`alter table task_events alter column seq set not null`.execute(db);
  await sql`update tasks t set event_seq = m.seq from (select task_id, max(seq) as seq from task_events group by task_id) m where t.id = m.task_id`.execute(db);
  await sql`create unique index task_events_task_seq on task_events (task_id, seq)`.execute(db);
  await sql`drop index if exists task_events_task`.execute(db);
  await sql`update task_events set data = data - 'tokenHint' - 'tokenId' - 'token' where kind = 'token_issued'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`create index if not exists task_events_task on task_events (task_id, id)`.execute(db);
  await sql`drop index if exists task_events_task_seq`.execute(db);
  await sql`alter table task_events drop column seq`.execute(db);
  await sql`alter table tasks drop column event_seq`.execute(db);
}
