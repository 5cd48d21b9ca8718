import { sql, type Kysely } from 'kysely';
import { formatMoney } from '../money.ts';
import { taskEnded } from '../telemetry/metrics.ts';
import { TERMINAL } from './companies.ts';
import type { TaskEventData, TaskEventRepository } from './events.ts';
import type { Company, Database, LedgerEntry, Payment, Task } from './schema.ts';

/** What the report shows of its task, companies, payments and ledger (the columns it reads, no more). */
export type ReportTask = Pick<Task, 'id' | 'tenant' | 'theme' | 'currency' | 'budget_limit' | 'reserved' | 'captured' | 'refunded' | 'released'>;
export type ReportCompanyRow = Pick<Company, 'company_id' | 'name' | 'industry' | 'city' | 'price' | 'status' | 'basic' | 'detail' | 'receipt_id' | 'error_code' | 'error_message'>;
export type ReportPayment = Pick<Payment, 'id' | 'company_id' | 'amount' | 'refunded_amount' | 'receipt_id' | 'resource'>;
export type ReportLedgerEntry = Pick<LedgerEntry, 'payment_id' | 'kind' | 'amount'>;

/** Everything of a task's own that its report is written from, read in one statement. */
export interface ReportInputs {
  task: ReportTask;
  /** By rank. */
  companies: ReportCompanyRow[];
  /** Oldest first. */
  payments: ReportPayment[];
  /** Oldest first. */
  ledger: ReportLedgerEntry[];
  /** The searches that were run (none when the task has no plan). */
  queries: string[];
  /** Where each reused record came from: company id → the purchase's task and when it was bought. */
  reusedFrom: Map<string, { taskId: string; boughtAt: Date }>;
}

/** How a report's statement closes its task (queues/settle.ts decides what; this writes it). */
export interface ReportClose {
  /** Why companies that never reached an outcome are skipped now. */
  skip: { code: string; message: string };
  /** Charges on the task's closed token that are not ours; null: the task had no token (nothing to note). */
  foreign: Array<{ chargeId: string; amount: number }> | null;
  status: 'completed' | 'failed' | 'cancelled';
  error?: { code: string; message: string };
}

/** Finished reports, one per task. */
export class ReportRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: TaskEventRepository,
  ) {}

  /**
   * The task, its companies, payments, ledger, searches and the origins of its reused records, in one
   * statement (one snapshot: the figures agree with each other). Undefined when the task does not exist.
   */
  async inputsOf(taskId: string): Promise<ReportInputs | undefined> {
    const { rows } = await sql<ReportTask & { companies: ReportCompanyRow[]; payments: ReportPayment[]; ledger: ReportLedgerEntry[]; queries: string[]; reused: Array<{ company_id: string; task_id: string; bought_at_ms: number }> }>`
      select t.id, t.tenant, t.theme, t.currency, t.budget_limit, t.reserved, t.captured, t.refunded, t.released,
        coalesce((
          select json_agg(json_build_object('company_id', c.company_id, 'name', c.name, 'industry', c.industry, 'city', c.city, 'price', c.price,
            'status', c.status, 'basic', c.basic, 'detail', c.detail, 'receipt_id', c.receipt_id, 'error_code', c.error_code, 'error_message', c.error_message) order by c.rank)
          from companies c where c.task_id = t.id), '[]') as companies,
        coalesce((
          select json_agg(json_build_object('id', p.id, 'company_id', p.company_id, 'amount', p.amount, 'refunded_amount', p.refunded_amount,
            'receipt_id', p.receipt_id, 'resource', p.resource) order by p.id)
          from payments p where p.task_id = t.id), '[]') as payments,
        coalesce((
          select json_agg(json_build_object('payment_id', l.payment_id, 'kind', l.kind, 'amount', l.amount) order by l.id)
          from ledger_entries l where l.task_id = t.id), '[]') as ledger,
        coalesce((select a.queries from agent_plans a where a.task_id = t.id), '[]') as queries,
        coalesce((
          select json_agg(json_build_object('company_id', r.company_id, 'task_id', s.task_id,
            'bought_at_ms', floor(extract(epoch from coalesce(m.bought_at, s.created_at)) * 1000)))
          from payments r join payments s on s.id = r.reused_payment_id left join memory_records m on m.payment_id = s.id
          where r.task_id = t.id), '[]') as reused
      from tasks t where t.id = ${taskId}`.execute(this.db);
    const row = rows[0];
    if (!row) return undefined;
    const { companies, payments, ledger, queries, reused, ...task } = row;
    const reusedFrom = new Map(reused.map((r) => [r.company_id, { taskId: r.task_id, boughtAt: new Date(Number(r.bought_at_ms)) }]));
    return { task, companies, payments, ledger, queries, reusedFrom };
  }

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

  /**
   * Stores the report and closes its task, in one statement (one commit): the companies that never reached
   * an outcome become `skipped`, the foreign charges are noted, the report is stored, and the task ends
   * with its webhook delivery. Each is told in the story as `skipUnsettled`, `noteForeignCharges`, `save`
   * and `end` tell it — a `decision` per company skipped (by rank), `foreign_charge` when the total changed,
   * `report_ready` the first time, `ended` last and once — with consecutive seqs. A task that had ended
   * already keeps its outcome (the rest is still written, as the separate writes would). Returns whether
   * this call ended the task and the deliveries it wrote, for the webhook queue.
   */
  async saveAndClose(taskId: string, report: { markdown: string; writer: string }, close: ReportClose): Promise<{ ended: boolean; deliveries: number[] }> {
    const reason = `${close.skip.code}: ${close.skip.message}`;
    const total = close.foreign === null ? null : close.foreign.reduce((s, c) => s + c.amount, 0);
    const foreign: TaskEventData['foreign_charge'] | null = close.foreign && { total: formatMoney(total!), charges: close.foreign.map((c) => ({ chargeId: c.chargeId, amount: formatMoney(c.amount) })) };
    const ended: TaskEventData['ended'] = { status: close.status, ...(close.error ? { error: close.error } : {}) };
    const ready: TaskEventData['report_ready'] = { writer: report.writer };
    // The task row is locked (cur) only once the companies' and the report's rows are: the order every other
    // writer takes them in (the rows it changes, then the task row that draws its events' seqs), so no
    // writer waits on this statement while holding what it waits for. `cur` reads the row as locked (the
    // latest version, also when another end committed while this one waited): whether it is still
    // unfinished, whether the foreign total changes.
    const { rows } = await sql<{ told: number; ended: boolean; deliveries: number[] }>`
      with s as (
        update companies set status = 'skipped', error_code = ${close.skip.code}, error_message = ${close.skip.message}, updated_at = now()
        where task_id = ${taskId} and status not in (${sql.join(TERMINAL)})
        returning company_id, name, price, rank
      ), r as (
        insert into reports (task_id, markdown, writer) values (${taskId}, ${report.markdown}, ${report.writer})
        on conflict (task_id) do update set markdown = excluded.markdown, writer = excluded.writer
        returning (xmax = 0) as first
      ), cur as (
        select tasks.id, tasks.status in ('queued', 'running') as unfinished,
          ${total}::bigint is not null and tasks.foreign_charged <> ${total}::bigint as foreign_new
        from tasks, (select count(*) from s) as skipped, (select count(*) from r) as saved
        where tasks.id = ${taskId}
        for update of tasks
      ), story as (
        select (row_number() over (order by part, rank))::int as n, kind, data from (
          select 1 as part, s.rank, 'decision' as kind, jsonb_build_object('companyId', s.company_id, 'name', s.name, 'action', 'skip',
            'reason', ${reason}::text, 'by', 'rules', 'price', (s.price / 100)::text || '.' || lpad((s.price % 100)::text, 2, '0')) as data
          from s
          union all select 2, 0, 'foreign_charge', ${JSON.stringify(foreign)}::jsonb from cur where cur.foreign_new
          union all select 3, 0, 'report_ready', ${JSON.stringify(ready)}::jsonb from r where r.first
          union all select 4, 0, 'ended', ${JSON.stringify(ended)}::jsonb from cur where cur.unfinished
        ) as told
      ), t as (
        update tasks set event_seq = tasks.event_seq + (select count(*) from story)::int,
          foreign_charged = coalesce(${total}::bigint, tasks.foreign_charged),
          status = case when cur.unfinished then ${close.status}::text else tasks.status end,
          stage = case when cur.unfinished then null else tasks.stage end,
          error_code = case when cur.unfinished then ${close.error?.code ?? null}::text else tasks.error_code end,
          error_message = case when cur.unfinished then ${close.error?.message ?? null}::text else tasks.error_message end,
          ended_at = case when cur.unfinished then now() else tasks.ended_at end,
          updated_at = now()
        from cur where tasks.id = cur.id
        returning tasks.id, tasks.tenant, tasks.webhook_url, tasks.event_seq, cur.unfinished
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select t.id, t.event_seq - (select count(*) from story)::int + story.n, story.kind, story.data from t, story
        returning 1
      ), delivery as (
        insert into webhook_deliveries (task_id, tenant, url, event)
        select id, tenant, webhook_url, 'task.ended' from t where t.unfinished and t.webhook_url is not null
        on conflict (task_id) do nothing
        returning id
      )
      select (select count(*) from told)::int as told, coalesce((select unfinished from t), false) as ended,
        coalesce((select json_agg(delivery.id) from delivery), '[]') as deliveries`.execute(this.db);
    const row = rows[0]!;
    if (row.ended) taskEnded(close.status);
    if (row.told) this.events.written(taskId);
    return { ended: row.ended, deliveries: row.deliveries.map(Number) };
  }

  async get(taskId: string): Promise<{ markdown: string; writer: string } | undefined> {
    return this.db.selectFrom('reports').select(['markdown', 'writer']).where('task_id', '=', taskId).executeTakeFirst();
  }
}
