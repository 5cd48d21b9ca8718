import { sql, type Kysely } from 'kysely';
import type { Database, Stage, TaskEventRow } from './schema.ts';

/**
 * What each kind of event of a task's story says (issue 13). No secret in any of them: never a token id
 * (nor a hint of one), a receipt, a key or a webhook URL. Money is a decimal string of CNY.
 */
export interface TaskEventData {
  created: { status: 'queued' };
  stage: { stage: Stage };
  searched: { queries: string[]; plannedBy: string; decidedBy: string; found: number; chosen: number; owned: number; cachedSearches: number; clipped: number };
  candidates: { count: number; chosen: number };
  decision: { companyId: string; name: string; action: 'buy' | 'skip'; reason: string; by: 'model' | 'rules'; price: string };
  voice_checked: { verified: boolean; score: number | null; mismatch?: string[] };
  token_issued: { limit: string; expiresAt: string };
  payment: { companyId: string; movement: 'reserve' | 'capture' | 'release' | 'refund'; amount: string };
  foreign_charge: { total: string; charges: Array<{ chargeId: string; amount: string }> };
  cancel_requested: Record<string, never>;
  report_ready: { writer: string };
  ended: { status: 'completed' | 'failed' | 'cancelled'; error?: { code: string; message: string } };
}

export type TaskEventType = keyof TaskEventData;

/** Every kind of event, in the order a story usually tells them. */
export const TASK_EVENT_TYPES = [
  'created',
  'stage',
  'searched',
  'candidates',
  'decision',
  'voice_checked',
  'token_issued',
  'payment',
  'foreign_charge',
  'cancel_requested',
  'report_ready',
  'ended',
] as const satisfies readonly TaskEventType[];

/** One event as readers see it. */
export interface TaskEvent {
  seq: number;
  taskId: string;
  type: string;
  at: Date;
  data: Record<string, unknown>;
}

/** One event to append: its type and what it says. */
export type NewTaskEvent = { [T in TaskEventType]: { type: T; data: TaskEventData[T] } }[TaskEventType];

/**
 * Appends an event to a task's story with the task's next `seq`, in one statement: the sequence is drawn
 * by updating the task row, which holds that row until the surrounding transaction commits — so a
 * task's events commit one after the other in `seq` order, and whoever has read `seq` n has every event
 * before it. Call it inside the transaction that makes the change the event tells (the payment's ledger
 * row, the task's end…): the story then never tells what the books do not hold, nor misses what they do.
 * `once`: only when the task has no event of this type yet (checked under the task row's lock, so two
 * racing writers add one). Returns the seq, or undefined when nothing was written.
 */
export async function appendEvent<T extends TaskEventType>(
  db: Kysely<Database>,
  taskId: string,
  type: T,
  data: TaskEventData[T],
  opts: { once?: boolean } = {},
): Promise<number | undefined> {
  return appendEvents(db, taskId, [{ type, data } as NewTaskEvent], opts);
}

/**
 * Appends several events in order, with consecutive seqs, in one statement (a search tells a decision per
 * candidate: one round trip, not one each). `once`: only when the task has no event of the first one's
 * type yet — then none is written. Returns the last seq, or undefined when nothing was written.
 */
export async function appendEvents(db: Kysely<Database>, taskId: string, events: NewTaskEvent[], opts: { once?: boolean } = {}): Promise<number | undefined> {
  if (events.length === 0) return undefined;
  if (opts.once) {
    if (!db.isTransaction) return db.transaction().execute((trx) => appendEvents(trx, taskId, events, opts));
    // The task row's lock first, then the look for an earlier one in a statement of its own: a racing
    // writer waits on the lock, and only a statement begun after it sees what the other committed.
    const locked = await sql<{ id: string }>`select id from tasks where id = ${taskId} for update`.execute(db);
    if (locked.rows.length === 0) return undefined;
    const seen = await db.selectFrom('task_events').select('seq').where('task_id', '=', taskId).where('kind', '=', events[0]!.type).limit(1).executeTakeFirst();
    if (seen) return undefined;
  }
  const n = events.length;
  const { rows } = await sql<{ seq: number }>`
    with t as (update tasks set event_seq = event_seq + ${n}::int where id = ${taskId} returning id, event_seq)
    insert into task_events (task_id, seq, kind, data)
    select t.id, t.event_seq - ${n}::int + e.ord, e.item->>'type', e.item->'data'
    from t cross join jsonb_array_elements(${JSON.stringify(events)}::jsonb) with ordinality as e(item, ord)
    returning seq`.execute(db);
  return rows.length ? Math.max(...rows.map((r) => Number(r.seq))) : undefined;
}

/**
 * A value as the text of a `jsonb` parameter. Its strings are made well-formed first — a lone surrogate
 * becomes U+FFFD, as the driver's UTF-8 encoding makes it in a text parameter — since Postgres refuses the
 * `\ud800` escape JSON.stringify writes for one (a theme a client sent with one is stored, not a 500).
 */
export function jsonParam(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify writes a lone surrogate as an escape (`\udxxx`); only then is the value walked again.
  if (!/\\u[dD][89a-fA-F]/.test(text)) return text;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? wellFormed(v) : v));
}

/** A lone surrogate → U+FFFD (String.prototype.toWellFormed, Node 20; not in TypeScript's ES2022 lib). */
const wellFormed = (text: string): string => (text as string & { toWellFormed(): string }).toWellFormed();

/** Told the id of a task whose story has grown, once the write has committed. */
export type EventListener = (taskId: string) => void;

/**
 * Reading a task's story, and the after-commit signal that it grew: each repository that writes events
 * calls `written(taskId)` once its transaction has committed, and whoever listens (the processes wire
 * it to a Redis publish, apps/runtime/event-wakeups.ts) wakes the streams that follow the task. The
 * signal is only a wake-up: the table is the story, and a reader always reads it from there.
 */
export class TaskEventRepository {
  private listener: EventListener | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  /** Who is told (one listener per process; a second call replaces the first). */
  onWritten(listener: EventListener | undefined): void {
    this.listener = listener;
  }

  /** Called by writers after their transaction committed. Never throws. */
  written(taskId: string): void {
    try {
      this.listener?.(taskId);
    } catch {
      // a wake-up is best effort: readers also look again on their own
    }
  }

  /** Appends one event in a transaction of its own and signals it. */
  async add<T extends TaskEventType>(taskId: string, type: T, data: TaskEventData[T], opts: { once?: boolean } = {}): Promise<number | undefined> {
    const seq = await appendEvent(this.db, taskId, type, data, opts);
    if (seq !== undefined) this.written(taskId);
    return seq;
  }

  /** A task's events after `after`, in order, at most `limit`. */
  async since(taskId: string, after: number, limit = 500): Promise<TaskEvent[]> {
    const rows = await this.db
      .selectFrom('task_events')
      .select(['task_id', 'seq', 'kind', 'data', 'created_at'])
      .where('task_id', '=', taskId)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  /** The last seq of each of these tasks (0 when it has none), for readers checking they missed nothing. */
  async heads(taskIds: string[]): Promise<Map<string, number>> {
    if (taskIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('tasks').select(['id', 'event_seq']).where('id', 'in', taskIds).execute();
    return new Map(rows.map((r) => [r.id, Number(r.event_seq)]));
  }
}

function toEvent(row: Pick<TaskEventRow, 'task_id' | 'seq' | 'kind' | 'data' | 'created_at'>): TaskEvent {
  return { seq: Number(row.seq), taskId: row.task_id, type: row.kind, at: row.created_at, data: row.data };
}
