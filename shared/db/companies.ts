import { sql, type Kysely } from 'kysely';
import type { Decision } from '../agent/rules.ts';
import { formatMoney } from '../money.ts';
import { appendEvents, jsonParam, type NewTaskEvent, type TaskEventData, type TaskEventRepository } from './events.ts';
import type { Company, CompanyStatus, Database } from './schema.ts';

/** A candidate found by the free search, ranked. Money in fen. */
export interface Candidate {
  companyId: string;
  rank: number;
  name: string;
  industry: string;
  city: string;
  price: number;
  relevance: number;
  chosen: boolean;
  /** The agent's decision about it (the rules' verdict on a model's or the ranking's proposal). */
  decision: Decision;
  basic: Record<string, unknown>;
}

/** The outcomes a company can end in; any other status (`found`) is skipped when its task ends. */
export const TERMINAL: readonly CompanyStatus[] = ['bought', 'reused', 'failed', 'refunded', 'skipped'];

/** What a search found and decided, and where the task goes next (queues/search). */
export interface SearchOutcome {
  candidates: Candidate[];
  searched: TaskEventData['searched'];
  /** The plan searched by; stored with the outcome unless it was stored before (a model's plan is, at once). */
  plan: { queries: string[]; plannedBy: 'model' | 'rules'; notes: string[] };
  decidedBy: 'model' | 'rules';
  /** What went other than planned in deciding (a model that failed, a rule that clipped its answer). */
  notes: string[];
  next: 'authorize' | 'report';
}

/** The companies a task found, chose and bought. */
export class CompanyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: TaskEventRepository,
  ) {}

  /**
   * Stores the search result once; a redelivered search job changes nothing. In the same transaction the
   * story tells it, once: `searched` (what was searched, when given), `candidates` (how many were found
   * and chosen) and one `decision` per candidate, in ranking order — buy or skip, and why.
   */
  async saveCandidates(taskId: string, candidates: Candidate[], searched?: TaskEventData['searched']): Promise<void> {
    const told = await this.db.transaction().execute(async (trx) => {
      if (candidates.length) await insertCandidates(trx, taskId, candidates);
      return (await appendEvents(trx, taskId, searchStory(candidates, searched), { once: true })) !== undefined;
    });
    if (told) this.events.written(taskId);
  }

  /**
   * The search's outcome and the task's hand-on, in one statement: the task moves from `search` to
   * `next` and, with that move only, the candidates are stored and the story tells the search
   * (`searched`, `candidates`, a `decision` each, in ranking order) and then the new `stage`; the plan is
   * stored (when it was not already) with who decided and the notes. Nothing is written unless the task
   * is still searching, unfinished and not asked to cancel — a condition on the task row itself, checked
   * again on its newest version when a racing writer held it, so the search is told once. Returns
   * whether the task moved on.
   */
  async saveSearch(taskId: string, outcome: SearchOutcome): Promise<boolean> {
    const story: NewTaskEvent[] = [...searchStory(outcome.candidates, outcome.searched), { type: 'stage', data: { stage: outcome.next } }];
    const { plan } = outcome;
    const { rows } = await sql<{ moved: number }>`
      with moved as (
        update tasks set status = 'running', stage = ${outcome.next}, updated_at = now(), event_seq = event_seq + ${story.length}::int
        where id = ${taskId} and stage = 'search' and status in ('queued', 'running') and cancel_requested = false
        returning id, event_seq
      ), planned as (
        insert into agent_plans as p (task_id, queries, planned_by, notes, decided_by)
        select id, ${jsonParam(plan.queries)}::jsonb, ${plan.plannedBy}, ${jsonParam([...plan.notes, ...outcome.notes])}::jsonb, ${outcome.decidedBy}
        from moved
        on conflict (task_id) do update set decided_by = excluded.decided_by, notes = p.notes || ${jsonParam(outcome.notes)}::jsonb
        where p.decided_by is null
      ), stored as (
        insert into companies (task_id, company_id, rank, name, industry, city, price, relevance, status, basic, decision_action, decision_reason, decision_by)
        select m.id, c.company_id, c.rank, c.name, c.industry, c.city, c.price, c.relevance, c.status, c.basic, c.decision_action, c.decision_reason, c.decision_by
        from moved m cross join jsonb_populate_recordset(null::companies, ${jsonParam(outcome.candidates.map(candidateRow))}::jsonb) as c
        on conflict (task_id, company_id) do nothing
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select m.id, m.event_seq - ${story.length}::int + e.ord, e.item->>'type', e.item->'data'
        from moved m cross join jsonb_array_elements(${jsonParam(story)}::jsonb) with ordinality as e(item, ord)
      )
      select count(*)::int as moved from moved`.execute(this.db);
    const moved = (rows[0]?.moved ?? 0) > 0;
    if (moved) this.events.written(taskId);
    return moved;
  }

  async list(taskId: string): Promise<Company[]> {
    return this.db.selectFrom('companies').selectAll().where('task_id', '=', taskId).orderBy('rank').execute();
  }

  /** The companies of several tasks at once (for listings), grouped by task. */
  async listForTasks(taskIds: string[]): Promise<Map<string, Company[]>> {
    const byTask = new Map<string, Company[]>(taskIds.map((id) => [id, []]));
    if (taskIds.length === 0) return byTask;
    const rows = await this.db.selectFrom('companies').selectAll().where('task_id', 'in', taskIds).orderBy('task_id').orderBy('rank').execute();
    for (const row of rows) byTask.get(row.task_id)?.push(row);
    return byTask;
  }

  async get(taskId: string, companyId: string): Promise<Company | undefined> {
    return this.db.selectFrom('companies').selectAll().where('task_id', '=', taskId).where('company_id', '=', companyId).executeTakeFirst();
  }

  /** The companies chosen for purchase (still `found`, or already past it). */
  async chosen(taskId: string): Promise<Company[]> {
    return this.db.selectFrom('companies').selectAll().where('task_id', '=', taskId).where('status', '!=', 'skipped').orderBy('rank').execute();
  }

  /** Records a company's outcome; an outcome already recorded is not overwritten unless `from` allows it. */
  async settle(
    taskId: string,
    companyId: string,
    status: CompanyStatus,
    fields: CompanyOutcome = {},
    from: CompanyStatus[] = ['found'],
  ): Promise<boolean> {
    const update = (db: Kysely<Database>) => settleCompany(db, taskId, companyId, status, fields, from);
    if (status !== 'skipped') return (await update(this.db)) !== undefined;
    // A company chosen to buy and then not bought (over budget, price changed…): the story says so.
    const row = await this.db.transaction().execute(async (trx) => {
      const skipped = await update(trx);
      if (skipped) await appendEvents(trx, taskId, [skipEvent(skipped, fields.error)]);
      return skipped;
    });
    if (row) this.events.written(taskId);
    return row !== undefined;
  }

  /** Every chosen company that never reached an outcome becomes `skipped` (task ended first); the story says each. */
  async skipUnsettled(taskId: string, reason: { code: string; message: string }): Promise<void> {
    const rows = await this.db.transaction().execute(async (trx) => {
      const skipped = await trx
        .updateTable('companies')
        .set({ status: 'skipped', error_code: reason.code, error_message: reason.message, updated_at: sql<Date>`now()` })
        .where('task_id', '=', taskId)
        .where('status', 'not in', TERMINAL)
        .returning(['company_id', 'name', 'price', 'decision_by', 'rank'])
        .execute();
      await appendEvents(trx, taskId, skipped.sort((x, y) => x.rank - y.rank).map((row) => skipEvent(row, reason)));
      return skipped;
    });
    if (rows.length) this.events.written(taskId);
  }
}

/** A company's outcome, written when it is still in one of the `from` statuses; returns the row, or undefined. */
export function settleCompany(db: Kysely<Database>, taskId: string, companyId: string, status: CompanyStatus, fields: CompanyOutcome = {}, from: CompanyStatus[] = ['found']) {
  return db
    .updateTable('companies')
    .set({
      status,
      ...(fields.detail ? { detail: JSON.stringify(fields.detail) } : {}),
      ...(fields.receiptId !== undefined ? { receipt_id: fields.receiptId } : {}),
      ...(fields.error ? { error_code: fields.error.code, error_message: fields.error.message } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('task_id', '=', taskId)
    .where('company_id', '=', companyId)
    .where('status', 'in', from)
    .returning(['company_id', 'name', 'price', 'decision_by'])
    .executeTakeFirst();
}

/** What is recorded with a company's outcome. */
export interface CompanyOutcome {
  detail?: Record<string, unknown>;
  receiptId?: string | null;
  error?: { code: string; message: string };
}

/** A `decision` to skip a company that had been chosen, with the reason it was not bought. */
function skipEvent(c: Pick<Company, 'company_id' | 'name' | 'price' | 'decision_by'>, error?: { code: string; message: string }): NewTaskEvent {
  return {
    type: 'decision',
    data: { companyId: c.company_id, name: c.name, action: 'skip', reason: error ? `${error.code}: ${error.message}` : 'not bought', by: 'rules', price: formatMoney(c.price) },
  };
}

/** What the story tells of a search: `searched` (when given), `candidates`, then a `decision` per candidate in ranking order. */
function searchStory(candidates: Candidate[], searched?: TaskEventData['searched']): NewTaskEvent[] {
  const counts = { count: candidates.length, chosen: candidates.filter((c) => c.chosen).length };
  return [
    ...(searched ? [{ type: 'searched' as const, data: searched }] : []),
    { type: 'candidates', data: counts },
    ...[...candidates]
      .sort((a, b) => a.rank - b.rank)
      .map((c): NewTaskEvent => ({ type: 'decision', data: { companyId: c.companyId, name: c.name, action: c.decision.action, reason: c.decision.reason, by: c.decision.by, price: formatMoney(c.price) } })),
  ];
}

/** A candidate's row of `companies` (without its task): chosen ones are `found`, the others `skipped`. */
function candidateRow(c: Candidate) {
  return {
    company_id: c.companyId,
    rank: c.rank,
    name: c.name,
    industry: c.industry,
    city: c.city,
    price: c.price,
    relevance: c.relevance,
    status: c.chosen ? ('found' as const) : ('skipped' as const),
    basic: c.basic,
    decision_action: c.decision.action,
    decision_reason: c.decision.reason,
    decision_by: c.decision.by,
  };
}

/** The candidates' rows; ones already stored (a redelivered search) are left as they are. */
async function insertCandidates(db: Kysely<Database>, taskId: string, candidates: Candidate[]): Promise<void> {
  await db
    .insertInto('companies')
    .values(candidates.map((c) => ({ ...candidateRow(c), task_id: taskId, basic: JSON.stringify(c.basic) })))
    .onConflict((oc) => oc.columns(['task_id', 'company_id']).doNothing())
    .execute();
}
