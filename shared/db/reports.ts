import { sql, type Kysely } from 'kysely';
import type { TaskEventRepository } from './events.ts';
import type { Database } from './schema.ts';

/** Finished reports, one per task. */
export class ReportRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: TaskEventRepository,
  ) {}

  /**
   * Stores the report; a rerun of the report stage replaces it with the same content. The first time,
   * the story tells `report_ready` in the same transaction.
   */
  async save(taskId: string, markdown: string, writer: string): Promise<void> {
    // One statement. The first save inserts the row (xmax = 0: no earlier version): only that one tells
    // `report_ready`; a rewrite (a retried report job, or a racing one after the first) updates it quietly.
    const { rows } = await sql<{ told: number }>`
      with r as (
        insert into reports (task_id, markdown, writer) values (${taskId}, ${markdown}, ${writer})
        on conflict (task_id) do update set markdown = excluded.markdown, writer = excluded.writer
        returning (xmax = 0) as first
      ), t as (
        update tasks set event_seq = event_seq + 1 where id = ${taskId} and exists (select 1 from r where r.first)
        returning id, event_seq
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select id, event_seq, 'report_ready', ${JSON.stringify({ writer })}::jsonb from t
        returning 1
      )
      select (select count(*) from told)::int as told`.execute(this.db);
    if (rows[0]?.told) this.events.written(taskId);
  }

  async get(taskId: string): Promise<{ markdown: string; writer: string } | undefined> {
    return this.db.selectFrom('reports').select(['markdown', 'writer']).where('task_id', '=', taskId).executeTakeFirst();
  }
}
