import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Finished reports, one per task. */
export class ReportRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores the report; a rerun of the report stage replaces it with the same content. */
  async save(taskId: string, markdown: string, writer: string): Promise<void> {
    await this.db
      .insertInto('reports')
      .values({ task_id: taskId, markdown, writer })
      .onConflict((oc) => oc.column('task_id').doUpdateSet({ markdown, writer }))
      .execute();
  }

  async get(taskId: string): Promise<{ markdown: string; writer: string } | undefined> {
    return this.db.selectFrom('reports').select(['markdown', 'writer']).where('task_id', '=', taskId).executeTakeFirst();
  }
}
