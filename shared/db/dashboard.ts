import { sql, type Kysely } from 'kysely';
import type { Database, LedgerKind, Stage, TaskStatus } from './schema.ts';

/** Budget-use aggregates, fed by the dashboard queue: per task and per tenant per day. */
export class DashboardRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Counts one ledger row into the aggregates, exactly once: the row's id is claimed in
   * dashboard_applied in the same statement that adds it up, so a redelivered event changes nothing.
   * One statement, as this runs for every money movement: data-modifying CTEs run exactly once and
   * atomically together, whether or not the final select reads them.
   * Returns false when it had been counted already.
   */
  async apply(ledgerEntryId: number): Promise<boolean> {
    const amountIf = (kind: LedgerKind) => sql`case when e.kind = ${kind} then e.amount else 0 end`;
    const { rows } = await sql<{ claimed: number; found: number }>`
      with claimed as (
        insert into dashboard_applied (ledger_entry_id) values (${ledgerEntryId})
        on conflict (ledger_entry_id) do nothing
        returning ledger_entry_id
      ), e as (
        select l.task_id, l.kind, l.amount, t.tenant, (l.created_at at time zone 'UTC')::date as day
        from ledger_entries l join tasks t on t.id = l.task_id join claimed c on c.ledger_entry_id = l.id
      ), per_task as (
        insert into budget_usage as u (task_id, tenant, reserved, captured, released, refunded, events)
        select e.task_id, e.tenant, ${amountIf('reserve')}, ${amountIf('capture')}, ${amountIf('release')}, ${amountIf('refund')}, 1 from e
        on conflict (task_id) do update set
          reserved = u.reserved + excluded.reserved, captured = u.captured + excluded.captured,
          released = u.released + excluded.released, refunded = u.refunded + excluded.refunded,
          events = u.events + 1, updated_at = now()
        returning 1
      ), per_day as (
        insert into budget_usage_daily as d (tenant, day, reserved, captured, released, refunded, events)
        select e.tenant, e.day, ${amountIf('reserve')}, ${amountIf('capture')}, ${amountIf('release')}, ${amountIf('refund')}, 1 from e
        on conflict (tenant, day) do update set
          reserved = d.reserved + excluded.reserved, captured = d.captured + excluded.captured,
          released = d.released + excluded.released, refunded = d.refunded + excluded.refunded,
          events = d.events + 1
        returning 1
      )
      select (select count(*) from claimed)::int as claimed,
             (select count(*) from e)::int as found`.execute(this.db);
    const { claimed, found } = rows[0]!;
    if (claimed && !found) {
      // Claimed an id with no ledger row behind it: undo the claim, so a later delivery can count it.
      await this.db.deleteFrom('dashboard_applied').where('ledger_entry_id', '=', ledgerEntryId).execute();
      throw new Error(`ledger entry ${ledgerEntryId} does not exist`);
    }
    return claimed > 0;
  }

  async forTask(taskId: string) {
    return this.db.selectFrom('budget_usage').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  }

  /** One tenant's last 90 days with budget use, newest first; the day as 'YYYY-MM-DD' on every driver. */
  async daily(tenant: string) {
    return this.db
      .selectFrom('budget_usage_daily')
      .select(['tenant', sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'reserved', 'captured', 'released', 'refunded', 'events'])
      .where('tenant', '=', tenant)
      .orderBy('budget_usage_daily.day', 'desc')
      .limit(90)
      .execute();
  }

  /**
   * Per-day totals (UTC days, newest first) for the operators' dashboard: one tenant's rows, or the
   * sum over every tenant when none is given. Amounts are integer fen.
   */
  async dailyTotals(opts: { tenant?: string; days: number }): Promise<DailyTotal[]> {
    let q = this.db
      .selectFrom('budget_usage_daily')
      .select([
        // As text: the drivers disagree on how they hand over a date (PGlite gives a Date at UTC midnight).
        sql<string>`to_char(budget_usage_daily.day, 'YYYY-MM-DD')`.as('day'),
        // sum() of bigint is numeric in Postgres; cast back so the driver hands over integer fen.
        sql<number>`sum(reserved)::bigint`.as('reserved'),
        sql<number>`sum(captured)::bigint`.as('captured'),
        sql<number>`sum(released)::bigint`.as('released'),
        sql<number>`sum(refunded)::bigint`.as('refunded'),
        sql<number>`sum(events)::bigint`.as('events'),
        sql<number>`count(*)::int`.as('tenants'),
      ])
      .groupBy('budget_usage_daily.day')
      .orderBy('budget_usage_daily.day', 'desc')
      .limit(opts.days);
    if (opts.tenant !== undefined) q = q.where('tenant', '=', opts.tenant);
    return q.execute();
  }

  /**
   * The most recent tasks (newest first), each with its live books from the tasks row, its
   * budget_usage aggregates (zero when the dashboard has counted nothing yet), how many ledger rows
   * it has and how many of those the dashboard has not counted yet. One statement, so the books and
   * the aggregates are read from the same snapshot.
   */
  async recentTasks(opts: { tenant?: string; limit: number }): Promise<TaskUsage[]> {
    let q = this.db
      .selectFrom('tasks as t')
      .leftJoin('budget_usage as u', 'u.task_id', 't.id')
      .select([
        't.id',
        't.tenant',
        't.theme',
        't.status',
        't.stage',
        't.currency',
        't.budget_limit',
        't.reserved',
        't.captured',
        't.refunded',
        't.released',
        't.created_at',
        't.ended_at',
        't.foreign_charged',
        sql<boolean>`u.task_id is not null`.as('counted'),
        sql<number>`coalesce(u.reserved, 0)`.as('usage_reserved'),
        sql<number>`coalesce(u.captured, 0)`.as('usage_captured'),
        sql<number>`coalesce(u.released, 0)`.as('usage_released'),
        sql<number>`coalesce(u.refunded, 0)`.as('usage_refunded'),
        sql<number>`coalesce(u.events, 0)`.as('usage_events'),
        (eb) =>
          eb
            .selectFrom('ledger_entries as l')
            .select(sql<number>`count(*)::int`.as('n'))
            .whereRef('l.task_id', '=', 't.id')
            .as('ledger_entries'),
        (eb) =>
          eb
            .selectFrom('ledger_entries as l')
            .leftJoin('dashboard_applied as d', 'd.ledger_entry_id', 'l.id')
            .select(sql<number>`count(*)::int`.as('n'))
            .whereRef('l.task_id', '=', 't.id')
            .where('d.ledger_entry_id', 'is', null)
            .as('pending_events'),
        // What memory saved the task: records reused instead of bought, at their listed prices.
        (eb) =>
          eb
            .selectFrom('companies as c')
            .select(sql<number>`count(*)::int`.as('n'))
            .whereRef('c.task_id', '=', 't.id')
            .where('c.status', '=', 'reused')
            .as('reused'),
        (eb) =>
          eb
            .selectFrom('companies as c')
            .select(sql<number>`coalesce(sum(c.price), 0)::bigint`.as('n'))
            .whereRef('c.task_id', '=', 't.id')
            .where('c.status', '=', 'reused')
            .as('saved'),
      ])
      .orderBy('t.seq', 'desc')
      .limit(opts.limit);
    if (opts.tenant !== undefined) q = q.where('t.tenant', '=', opts.tenant);
    const rows = await q.execute();
    return rows.map((r) => ({
      ...r,
      ledger_entries: Number(r.ledger_entries ?? 0),
      pending_events: Number(r.pending_events ?? 0),
      reused: Number(r.reused ?? 0),
      saved: Number(r.saved ?? 0),
    }));
  }
}

/** One UTC day of budget use, summed over the tenants it covers. Amounts in fen. */
export interface DailyTotal {
  day: string;
  reserved: number;
  captured: number;
  released: number;
  refunded: number;
  events: number;
  /** How many tenants had movements that day. */
  tenants: number;
}

/** A task's live books beside the dashboard's aggregates for it. Amounts in fen. */
export interface TaskUsage {
  id: string;
  tenant: string;
  theme: string;
  status: TaskStatus;
  stage: Stage | null;
  currency: string;
  budget_limit: number;
  reserved: number;
  captured: number;
  refunded: number;
  released: number;
  created_at: Date;
  ended_at: Date | null;
  /** Charged to the task's token by someone else (not under our keys), found when its money closed. */
  foreign_charged: number;
  /** Whether a budget_usage row exists for the task. */
  counted: boolean;
  usage_reserved: number;
  usage_captured: number;
  usage_released: number;
  usage_refunded: number;
  usage_events: number;
  /** Ledger rows the task has. */
  ledger_entries: number;
  /** Ledger rows the dashboard has not counted yet. */
  pending_events: number;
  /** Records the task took from the tenant's memory instead of buying them, and their listed prices (fen). */
  reused: number;
  saved: number;
}
