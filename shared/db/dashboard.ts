import { sql, type Kysely } from 'kysely';
import type { Database, LedgerKind } from './schema.ts';

const COLUMN: Record<LedgerKind, 'reserved' | 'captured' | 'released' | 'refunded'> = {
  reserve: 'reserved',
  capture: 'captured',
  release: 'released',
  refund: 'refunded',
};

/** Budget-use aggregates, fed by the dashboard queue: per task and per tenant per day. */
export class DashboardRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Counts one ledger row into the aggregates, exactly once: the row's id is claimed in
   * dashboard_applied in the same transaction, so a redelivered event changes nothing.
   * Returns false when it had been counted already.
   */
  async apply(ledgerEntryId: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto('dashboard_applied')
        .values({ ledger_entry_id: ledgerEntryId })
        .onConflict((oc) => oc.column('ledger_entry_id').doNothing())
        .returning('ledger_entry_id')
        .executeTakeFirst();
      if (!claimed) return false;
      const entry = await trx
        .selectFrom('ledger_entries as l')
        .innerJoin('tasks as t', 't.id', 'l.task_id')
        .select(['l.task_id', 'l.kind', 'l.amount', 't.tenant', sql<string>`to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day')])
        .where('l.id', '=', ledgerEntryId)
        .executeTakeFirst();
      if (!entry) throw new Error(`ledger entry ${ledgerEntryId} does not exist`);
      const col = COLUMN[entry.kind];
      await trx
        .insertInto('budget_usage')
        .values({ task_id: entry.task_id, tenant: entry.tenant, [col]: entry.amount, events: 1 })
        .onConflict((oc) =>
          oc.column('task_id').doUpdateSet({
            [col]: sql`budget_usage.${sql.ref(col)} + ${entry.amount}`,
            events: sql`budget_usage.events + 1`,
            updated_at: sql`now()`,
          }),
        )
        .execute();
      await trx
        .insertInto('budget_usage_daily')
        .values({ tenant: entry.tenant, day: entry.day, [col]: entry.amount, events: 1 })
        .onConflict((oc) =>
          oc.columns(['tenant', 'day']).doUpdateSet({
            [col]: sql`budget_usage_daily.${sql.ref(col)} + ${entry.amount}`,
            events: sql`budget_usage_daily.events + 1`,
          }),
        )
        .execute();
      return true;
    });
  }

  async forTask(taskId: string) {
    return this.db.selectFrom('budget_usage').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  }

  async daily(tenant: string) {
    return this.db.selectFrom('budget_usage_daily').selectAll().where('tenant', '=', tenant).orderBy('day', 'desc').limit(90).execute();
  }
}
