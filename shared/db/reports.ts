import type { Kysely } from 'kysely';
import { appendEvent, type TaskEventRepository } from './events.ts';
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
    const told = await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('reports')
        .values({ task_id: taskId, markdown, writer })
        .onConflict((oc) => oc.column('task_id').doUpdateSet({ markdown, writer }))
        .execute();
      return (await appendEvent(trx, taskId, 'report_ready', { writer }, { once: true })) !== undefined;
    });
    if (told) this.events.written(taskId);
  }

  async get(taskId: string): Promise<{ markdown: string; writer: string } | undefined> {
    return this.db.selectFrom('reports').select(['markdown', 'writer']).where('task_id', '=', taskId).executeTakeFirst();
  }
}
