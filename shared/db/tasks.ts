import { sql, type Kysely } from 'kysely';
import type { Keyring } from '../crypto/keyring.ts';
import { formatMoney } from '../money.ts';
import { tokenHint } from '../redact.ts';
import { taskEnded } from '../telemetry/metrics.ts';
import { appendEvent, jsonParam, type TaskEventData, type TaskEventRepository, type TaskEventType } from './events.ts';
import type { Database, NewTask, Stage, Task, TaskStatus } from './schema.ts';

export const ENDED_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];
const UNFINISHED: TaskStatus[] = ['queued', 'running'];
const STAGE_ORDER: Record<Stage, number> = { search: 1, authorize: 2, detail: 3, report: 4 };

/** Result of creating a task under an idempotency key. */
export type CreateTaskResult = { kind: 'created'; task: Task } | { kind: 'replayed'; task: Task } | { kind: 'conflict' };

/** Result of admitting a task under its tenant's limits: created (or replayed), or refused by one of them. */
export type AdmitResult = CreateTaskResult | { kind: 'too_many_open_tasks'; open: number } | { kind: 'over_daily_limit'; remaining: number };

/** What admission holds a new task to: its tenant's open-task limit and daily spending cap (fen; null: none). */
export interface AdmissionLimits {
  openTasks: number;
  dailySpend: number | null;
}

/** Advisory-lock class of a tenant's admissions (two-key form, apart from the migration lock's one-key space). */
const ADMISSION_LOCK = 8;

/** Tasks: the aggregate root of a research run and its budget. */
export class TaskRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly keyring: Keyring,
    private readonly events: TaskEventRepository,
  ) {}

  /** Inserts a task; with an idempotency key, the same key and request give back the first task. */
  async create(task: NewTask): Promise<CreateTaskResult> {
    const inserted = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('tasks')
        .values(task)
        .onConflict((oc) => oc.columns(['tenant', 'idempotency_key']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) row.event_seq = (await appendEvent(trx, row.id, 'created', { status: 'queued' }))!;
      return row;
    });
    if (inserted) {
      this.events.written(inserted.id);
      return { kind: 'created', task: inserted };
    }
    const existing = await this.db
      .selectFrom('tasks')
      .selectAll()
      .where('tenant', '=', task.tenant)
      .where('idempotency_key', '=', task.idempotency_key ?? null)
      .executeTakeFirstOrThrow();
    return existing.request_hash === task.request_hash ? { kind: 'replayed', task: existing } : { kind: 'conflict' };
  }

  /**
   * Creates a task within its tenant's limits (issue 8). One transaction under a per-tenant lock, so
   * concurrent submissions of one tenant are counted one after the other: never more open (queued +
   * running) tasks than `openTasks`, and no budget larger than what remains of the daily cap for the
   * UTC day the task is created on (the cap itself is held by every reservation, payments.ts). An
   * idempotency key already used gives back its task (or a conflict) before any limit is looked at:
   * a replay is not a new submission.
   */
  async admit(task: NewTask, limits: AdmissionLimits, legacyRequestHash?: string): Promise<AdmitResult> {
    const result = await this.db.transaction().execute(async (trx): Promise<AdmitResult> => {
      await sql`select pg_advisory_xact_lock(${ADMISSION_LOCK}, hashtext(${task.tenant}))`.execute(trx);
      // The look and the insert in the statement after the lock: begun once the lock is held, its snapshot
      // has every admission of this tenant committed before (one taken before the lock would miss them).
      const row = await insertWithinLimits(trx, task, limits);
      if (row.inserted) return { kind: 'created', task: row.inserted };
      // Created under this key while this one waited for the lock: its replay, or a conflict.
      if (row.keyUsed) return (await findReplay(trx, task, legacyRequestHash)) ?? { kind: 'conflict' };
      if (row.open >= limits.openTasks) return { kind: 'too_many_open_tasks', open: row.open };
      if (limits.dailySpend === null) throw new Error(`task ${task.id} was neither inserted nor refused by a limit`);
      return { kind: 'over_daily_limit', remaining: Math.max(0, limits.dailySpend - row.spentToday) };
    });
    if (result.kind === 'created') this.events.written(result.task.id);
    return result;
  }

  /**
   * The task a tenant created under an idempotency key, as a replay of this request or a conflict;
   * undefined when the key is new. `legacyRequestHash`: how this request was hashed before the whole
   * body was (a key used before that change still replays its task).
   */
  async replayOf(task: Pick<NewTask, 'tenant' | 'idempotency_key' | 'request_hash'>, legacyRequestHash?: string): Promise<CreateTaskResult | undefined> {
    return findReplay(this.db, task, legacyRequestHash);
  }

  /** One task; scoped to a tenant when one is given. */
  async get(id: string, tenant?: string): Promise<Task | undefined> {
    let q = this.db.selectFrom('tasks').selectAll().where('id', '=', id);
    if (tenant !== undefined) q = q.where('tenant', '=', tenant);
    return q.executeTakeFirst();
  }

  /** A tenant's tasks, newest first, keyset-paginated on the insertion sequence. */
  async list(tenant: string, limit: number, beforeSeq?: number): Promise<Task[]> {
    let q = this.db.selectFrom('tasks').selectAll().where('tenant', '=', tenant);
    if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq);
    return q.orderBy('seq', 'desc').limit(limit).execute();
  }

  /**
   * Moves an unfinished task into a stage (and to `running`), forward only: a stage can be entered
   * again (a retry) but never after a later one (a late redelivery must not turn the task back).
   * Returns the task, or undefined when it has ended, a cancel was asked for, or it is past `stage`.
   */
  async enterStage(id: string, stage: Stage): Promise<Task | undefined> {
    // One statement: the conditional move, and its `stage` event when the stage is a new one (its seq
    // drawn in the same update). A task already running in this stage (the stage before handed it on, or
    // a retry) is not written again: it is read as it is, and nothing is told.
    const { rows } = await sql<Task>`
      with entered as (
        update tasks set status = 'running', stage = ${stage}, updated_at = now(),
          event_seq = event_seq + (case when stage is distinct from ${stage} then 1 else 0 end)
        where id = ${id} and status in (${sql.join(UNFINISHED)}) and cancel_requested = false
          and (stage is distinct from ${stage} or status <> 'running')
          and (case stage when 'search' then 1 when 'authorize' then 2 when 'detail' then 3 when 'report' then 4 else 0 end) <= ${STAGE_ORDER[stage]}
        returning *
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select id, event_seq, 'stage', ${JSON.stringify({ stage })}::jsonb from entered
        on conflict (task_id, seq) do nothing
        returning 1
      )
      select entered.*, (select count(*) from told)::int as told from entered
      union all
      select tasks.*, 0 from tasks
      where id = ${id} and stage = ${stage} and status = 'running' and cancel_requested = false and not exists (select 1 from entered)`.execute(this.db);
    const row = rows[0] as (Task & { told?: number }) | undefined;
    // Nothing in this statement's snapshot: a racing entry of the same stage may have committed while this
    // one waited on the row (its update then found nothing to do); a statement of its own sees it.
    if (!row) {
      const now = await this.get(id);
      return now && now.stage === stage && now.status === 'running' && !now.cancel_requested ? now : undefined;
    }
    const { told, ...task } = row;
    if (told) this.events.written(id);
    return task as Task;
  }

  /** Marks the task as touched, so the sweeper does not think it is stuck. */
  async touch(id: string): Promise<void> {
    await this.db.updateTable('tasks').set({ updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
  }

  /**
   * Keeps the task's payment token id, sealed: it is a spending credential (shared/crypto); with
   * `issued`, tells the story `token_issued` in the same transaction — its limit and expiry only, never
   * the id nor a hint of it (the hint is for finance, in the payments audit trail).
   */
  async setToken(id: string, tokenId: string, issued?: TaskEventData['token_issued']): Promise<void> {
    const sealed = this.keyring.seal(tokenId, tokenContext(id));
    // One statement. `token_issued` is told once: only by the update that finds no token yet (a retry, or
    // a racing duplicate re-reading the row after the first, draws no seq and its insert meets the head's event).
    const event = issued ? { limit: issued.limit, expiresAt: issued.expiresAt } : null;
    const { rows } = await sql<{ told: number }>`
      with t as (
        update tasks set token_id = ${sealed}, token_hint = ${tokenHint(tokenId)}, updated_at = now(),
          event_seq = event_seq + (case when token_id is null and ${event !== null} then 1 else 0 end)
        where id = ${id}
        returning id, event_seq
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select id, event_seq, 'token_issued', ${JSON.stringify(event)}::jsonb from t where ${event !== null}
        on conflict (task_id, seq) do nothing
        returning 1
      )
      select (select count(*) from told)::int as told`.execute(this.db);
    if (rows[0]?.told) this.events.written(id);
  }

  /**
   * The authorize stage's outcome, in one statement: the payment token id kept (sealed), the story told —
   * `voice_checked`, `token_issued` (its limit and expiry only, never the id nor a hint of it) — and the
   * task moved into `detail` with its `stage` event, answering the companies chosen for it. Only by the
   * update that finds no token yet, so the story is told once under retries and races. The token is kept
   * even when the task may not move on (a cancel asked for meanwhile, the task ended: `entered` false), so
   * that it is closed with the task's money. Undefined when a token was stored before: then it is stored
   * again as setToken does, telling nothing more, and the caller moves the task on as before.
   */
  async authorized(id: string, tokenId: string, story: { voice: TaskEventData['voice_checked']; issued: TaskEventData['token_issued'] }): Promise<{ entered: boolean; chosen: string[] } | undefined> {
    const sealed = this.keyring.seal(tokenId, tokenContext(id));
    const events = [
      { type: 'voice_checked', data: story.voice },
      { type: 'token_issued', data: { limit: story.issued.limit, expiresAt: story.issued.expiresAt } },
      { type: 'stage', data: { stage: 'detail' } },
    ];
    // A task already in `detail` is left out (to the caller), so that `stage = 'detail'` afterwards says
    // this update made the move — and drew the third seq.
    const movable = sql`status in (${sql.join(UNFINISHED)}) and cancel_requested = false and stage = 'authorize'`;
    const { rows } = await sql<{ entered: boolean; chosen: string[] }>`
      with t as (
        update tasks set token_id = ${sealed}, token_hint = ${tokenHint(tokenId)}, updated_at = now(),
          stage = case when ${movable} then 'detail' else stage end,
          status = case when ${movable} then 'running' else status end,
          event_seq = event_seq + (case when ${movable} then 3 else 2 end)
        where id = ${id} and token_id is null and stage is distinct from 'detail'
        returning id, event_seq, stage = 'detail' as entered
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select t.id, t.event_seq - (case when t.entered then 3 else 2 end) + e.ord, e.item->>'type', e.item->'data'
        from t cross join jsonb_array_elements(${jsonParam(events)}::jsonb) with ordinality as e(item, ord)
        where e.ord <= (case when t.entered then 3 else 2 end)
      )
      select t.entered, array(select company_id from companies where task_id = ${id} and status <> 'skipped' order by rank) as chosen
      from t`.execute(this.db);
    const row = rows[0];
    if (!row) {
      await this.setToken(id, tokenId, story.issued);
      return undefined;
    }
    this.events.written(id);
    return { entered: row.entered, chosen: row.entered ? row.chosen : [] };
  }

  /** The task's payment token id, opened — for the workers that pay and settle with it, nothing else. */
  tokenOf(task: Pick<Task, 'id' | 'token_id'>): string | null {
    return task.token_id === null ? null : this.keyring.open(task.token_id, tokenContext(task.id));
  }

  /**
   * Records what was charged to the task's token by someone else (found when its money is closed): the
   * total on the task row, the charges in an event. Setting (not adding) keeps a re-run from counting twice.
   */
  async noteForeignCharges(id: string, charges: Array<{ chargeId: string; amount: number }>): Promise<void> {
    const total = charges.reduce((s, c) => s + c.amount, 0);
    const told = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('tasks')
        .set({ foreign_charged: total, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('foreign_charged', '!=', total)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      return (await appendEvent(trx, id, 'foreign_charge', { total: formatMoney(total), charges: charges.map((c) => ({ chargeId: c.chargeId, amount: formatMoney(c.amount) })) })) !== undefined;
    });
    if (told) this.events.written(id);
  }

  /** Asks an unfinished task to stop. Returns false when it has already ended. */
  async requestCancel(id: string, tenant: string): Promise<boolean> {
    const row = await this.db.transaction().execute(async (trx) => {
      const asked = await trx
        .updateTable('tasks')
        .set({ cancel_requested: true, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('tenant', '=', tenant)
        .where('status', 'in', UNFINISHED)
        .returning('id')
        .executeTakeFirst();
      if (asked) await appendEvent(trx, id, 'cancel_requested', {}, { once: true });
      return asked;
    });
    if (row) this.events.written(id);
    return row !== undefined;
  }

  /**
   * Ends a task once; a second call leaves the first outcome in place. In the same transaction: the
   * story's last event, `ended`, and — when the task carries a webhook URL — its delivery (sent by the
   * webhook queue), so no ended task lacks either.
   */
  async end(id: string, status: 'completed' | 'failed' | 'cancelled', error?: { code: string; message: string }): Promise<boolean> {
    return (await this.endTelling(id, status, error)) !== undefined;
  }

  /**
   * `end`, answering with the ids of the webhook deliveries the end wrote (none when the task has no URL),
   * so the caller queues them without reading them back; undefined when the task had ended already.
   */
  async endTelling(id: string, status: 'completed' | 'failed' | 'cancelled', error?: { code: string; message: string }): Promise<{ deliveries: number[] } | undefined> {
    // One statement: data-modifying CTEs run once and atomically together.
    const { rows } = await sql<{ id: string; deliveries: number[] }>`
      with ended as (
        update tasks set status = ${status}, stage = null, error_code = ${error?.code ?? null}, error_message = ${error?.message ?? null},
          ended_at = now(), updated_at = now(), event_seq = event_seq + 1
        where id = ${id} and status in (${sql.join(UNFINISHED)})
        returning id, tenant, webhook_url, event_seq
      ), told as (
        insert into task_events (task_id, seq, kind, data)
        select id, event_seq, 'ended', ${JSON.stringify({ status, ...(error ? { error } : {}) })}::jsonb from ended
      ), delivery as (
        insert into webhook_deliveries (task_id, tenant, url, event)
        select id, tenant, webhook_url, 'task.ended' from ended where webhook_url is not null
        on conflict (task_id) do nothing
        returning id
      )
      select id, coalesce((select json_agg(delivery.id) from delivery), '[]') as deliveries from ended`.execute(this.db);
    if (rows.length === 0) return undefined;
    taskEnded(status);
    this.events.written(id);
    return { deliveries: rows[0]!.deliveries.map(Number) };
  }

  /** Unfinished tasks not advanced since `olderThanMs`: their queued work may have been lost. */
  async findStale(olderThanMs: number, limit = 100): Promise<Task[]> {
    return this.db
      .selectFrom('tasks')
      .selectAll()
      .where('status', 'in', UNFINISHED)
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }

  /** Tasks per status and the money in each bucket across all tasks, in fen (for metrics). */
  async totals(): Promise<{ byStatus: Record<string, number>; money: { limit: number; reserved: number; captured: number; refunded: number; released: number } }> {
    const rows = await this.db
      .selectFrom('tasks')
      .select([
        'status',
        sql<number>`count(*)::int`.as('n'),
        sql<number>`coalesce(sum(budget_limit), 0)::bigint`.as('limit'),
        sql<number>`coalesce(sum(reserved), 0)::bigint`.as('reserved'),
        sql<number>`coalesce(sum(captured), 0)::bigint`.as('captured'),
        sql<number>`coalesce(sum(refunded), 0)::bigint`.as('refunded'),
        sql<number>`coalesce(sum(released), 0)::bigint`.as('released'),
      ])
      .groupBy('status')
      .execute();
    const money = { limit: 0, reserved: 0, captured: 0, refunded: 0, released: 0 };
    const byStatus: Record<string, number> = {};
    for (const r of rows) {
      byStatus[r.status] = Number(r.n);
      for (const k of Object.keys(money) as Array<keyof typeof money>) money[k] += Number(r[k]);
    }
    return { byStatus, money };
  }

  /** Every task, oldest first, in pages (for audits). */
  async *all(pageSize = 500): AsyncGenerator<Task> {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const page = await this.db.selectFrom('tasks').selectAll().where('id', '>', after).orderBy('id').limit(pageSize).execute();
      yield* page;
      if (page.length < pageSize) return;
      after = page.at(-1)!.id;
    }
  }

  /** Appends an event to the task's story, in a transaction of its own (shared/db/events.ts). */
  async addEvent<T extends TaskEventType>(taskId: string, type: T, data: TaskEventData[T]): Promise<void> {
    await this.events.add(taskId, type, data);
  }
}

/** What admission found under the tenant's lock, and the task when it was inserted. */
interface Admission {
  inserted: Task | undefined;
  keyUsed: boolean;
  open: number;
  spentToday: number;
}

/**
 * One statement: the tenant's open tasks, its spending today and an earlier task under the same key are
 * looked at, and the task is inserted with its `created` event (seq 1) only when the key is new and both
 * limits leave room. Run it under the tenant's admission lock.
 */
async function insertWithinLimits(db: Kysely<Database>, task: NewTask, limits: AdmissionLimits): Promise<Admission> {
  // The row as JSON, typed by the table's own row type: one parameter, whatever the columns given.
  const given = Object.entries({ ...task, event_seq: 1 }).filter(([, v]) => v !== undefined);
  const columns = sql.join(given.map(([k]) => sql.ref(k)));
  const values = jsonParam(Object.fromEntries(given));
  const { rows } = await sql<Task & { admission_key_used: boolean; admission_open: number; admission_spent: number }>`
    with earlier as (
      select 1 from tasks where tenant = ${task.tenant} and idempotency_key = ${task.idempotency_key ?? null}
    ), open as (
      select count(*)::int as n from tasks where tenant = ${task.tenant} and status in (${sql.join(UNFINISHED)})
    ), spent as (
      select coalesce(sum(spend), 0)::bigint as spend from tenant_spend_daily
      where tenant = ${task.tenant} and day = (now() at time zone 'UTC')::date
    ), inserted as (
      insert into tasks (${columns})
      select ${columns} from jsonb_populate_record(null::tasks, ${values}::jsonb)
      where not exists (select 1 from earlier)
        and (select n from open) < ${limits.openTasks}
        and (${limits.dailySpend}::bigint is null or ${task.budget_limit}::bigint <= ${limits.dailySpend}::bigint - (select spend from spent))
      returning *
    ), told as (
      insert into task_events (task_id, seq, kind, data)
      select id, event_seq, 'created', ${JSON.stringify({ status: 'queued' })}::jsonb from inserted
    )
    select inserted.*, exists (select 1 from earlier) as admission_key_used, (select n from open) as admission_open, (select spend from spent) as admission_spent
    from (select 1) as one left join inserted on true`.execute(db);
  const { admission_key_used: keyUsed, admission_open: open, admission_spent: spentToday, ...row } = rows[0]!;
  return { inserted: row.id ? (row as Task) : undefined, keyUsed, open, spentToday: Number(spentToday) };
}

/** A task created earlier under the same tenant and idempotency key: a replay when the request is the same, else a conflict. */
async function findReplay(db: Kysely<Database>, task: Pick<NewTask, 'tenant' | 'idempotency_key' | 'request_hash'>, legacyRequestHash?: string): Promise<CreateTaskResult | undefined> {
  if (task.idempotency_key === null || task.idempotency_key === undefined) return undefined;
  const existing = await db.selectFrom('tasks').selectAll().where('tenant', '=', task.tenant).where('idempotency_key', '=', task.idempotency_key).executeTakeFirst();
  if (!existing) return undefined;
  const same = existing.request_hash === task.request_hash || (legacyRequestHash !== undefined && existing.request_hash === legacyRequestHash);
  return same ? { kind: 'replayed', task: existing } : { kind: 'conflict' };
}

/** What a task's sealed token is bound to: this column of this row. */
export const tokenContext = (taskId: string) => `tasks.token_id:${taskId}`;
