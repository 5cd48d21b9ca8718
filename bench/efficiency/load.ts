/**
 * The load: tasks posted to the gateway over HTTP (a tenant per task, so every record is paid for), and
 * waiting until the work they caused is done — every task ended in the books and every queue empty.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { GatewayClient } from '../../apps/gateway/client.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';
import type { CountedClient } from './postgres.ts';
import type { AloneTask } from './timeline.ts';

/** The industries the marketplace stand-in holds, one theme per task in turn. */
const THEMES = ['battery', 'semiconductor', 'logistics', 'biotech', 'solar', 'robotics', 'fintech', 'e-commerce'];
/** Records each task buys: maxCompanies, with a budget that covers them. */
export const RECORDS_PER_TASK = 3;

/** API keys: tenant `<tag><n>` has key `<secret>-<tag><n>`; one tenant per task. */
export class Tenants {
  private next = 0;
  constructor(
    readonly tag: string,
    readonly count: number,
    private readonly secret: string,
  ) {}

  /** `tenant:key` lines for API_KEYS_FILE. */
  lines(): string[] {
    return Array.from({ length: this.count }, (_, i) => `${this.tag}${i}:${this.secret}-${this.tag}${i}`);
  }

  /** The next unused tenant's key and task number. */
  take(): { n: number; key: string } {
    if (this.next >= this.count) throw new Error(`more than ${this.count} tasks for tenants ${this.tag}*`);
    const n = this.next++;
    return { n, key: `${this.secret}-${this.tag}${n}` };
  }
}

const body = (n: number) => ({ theme: THEMES[n % THEMES.length]!, budget: '200.00', voiceId: 'demo-voice', maxCompanies: RECORDS_PER_TASK });

export interface Posted {
  ids: string[];
  /** POST latencies, ms. */
  postMs: number[];
  /** Refusals and errors (the first few), and how many 503s were retried. */
  refused: string[];
  retried: number;
}

/** Posts one task; a 503 (a dependency slow on a loaded machine) is retried with the same Idempotency-Key, as a client would. */
async function postOne(base: string, tenants: Tenants, runId: string, into: Posted): Promise<void> {
  const { n, key } = tenants.take();
  const started = performance.now();
  try {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${base}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `bench-${runId}-${tenants.tag}${n}` },
        body: JSON.stringify(body(n)),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status === 503 && attempt < 5) {
        into.retried++;
        await new Promise((r) => setTimeout(r, 200 * attempt));
        continue;
      }
      if (res.status === 202) {
        into.postMs.push(performance.now() - started);
        into.ids.push((JSON.parse(text) as { id: string }).id);
      } else into.refused.push(`${res.status} ${text.slice(0, 200)}`);
      return;
    }
  } catch (err) {
    into.refused.push((err as Error).message);
  }
}

/** Posts `count` tasks, `concurrency` at a time (each poster waits for its POST's answer). */
export async function postTasks(base: string, tenants: Tenants, runId: string, count: number, concurrency: number, deadline: number): Promise<Posted> {
  const out: Posted = { ids: [], postMs: [], refused: [], retried: 0 };
  let left = count;
  const poster = async () => {
    while (left > 0 && performance.now() < deadline) {
      left--;
      await postOne(base, tenants, runId, out);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, poster));
  return out;
}

/** Posts at a steady rate (the soak): one task every 1000/rate ms, not waiting for answers, until `until`. */
export async function postAtRate(base: string, tenants: Tenants, runId: string, perSecond: number, until: number, into: Posted): Promise<void> {
  const gap = 1000 / perSecond;
  const inFlight = new Set<Promise<void>>();
  for (let next = performance.now(); performance.now() < until; next += gap) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = postOne(base, tenants, runId, into).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}

/**
 * Waits until every task of `schema` has ended (polling Postgres) and then every queue under `prefix` is
 * empty (polling Redis, twice in a row). The bench's own Redis commands are counted into `own`, so that
 * they can be taken out of Redis's counts. False when `deadline` passed first.
 */
export async function waitDone(input: { db: CountedClient; schema: string; redis: Redis; prefix: string; own: Map<string, number>; deadline: number }): Promise<boolean> {
  const { db, schema, redis, prefix, own, deadline } = input;
  while (performance.now() < deadline) {
    const [row] = await db.query<{ n: string }>(`select count(*) as n from "${schema}".tasks where ended_at is null`);
    if (Number(row!.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let emptyTimes = 0;
  while (performance.now() < deadline) {
    const pipeline = redis.pipeline();
    for (const q of QUEUE_NAMES) {
      pipeline.llen(`${prefix}:${q}:wait`).llen(`${prefix}:${q}:active`);
      pipeline.zcard(`${prefix}:${q}:delayed`).zcard(`${prefix}:${q}:prioritized`).zcard(`${prefix}:${q}:waiting-children`);
    }
    const answers = (await pipeline.exec()) ?? [];
    own.set('llen', (own.get('llen') ?? 0) + 2 * QUEUE_NAMES.length);
    own.set('zcard', (own.get('zcard') ?? 0) + 3 * QUEUE_NAMES.length);
    if (answers.every(([err, n]) => !err && n === 0)) {
      if (++emptyTimes === 2) return true;
    } else emptyTimes = 0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * Submit → report with nothing else running: POST a task, follow its events (SSE) to `ended`, GET its
 * report; `count` tasks one after the other. Returns each one's marks (epoch ms: timeline.ts) and milliseconds.
 */
export async function submitToReport(base: string, tenants: Tenants, runId: string, count: number): Promise<{ tasks: AloneTask[]; ms: number[] }> {
  const out = { tasks: [] as AloneTask[], ms: [] as number[] };
  for (let i = 0; i < count; i++) {
    const { n, key } = tenants.take();
    const client = new GatewayClient({ baseUrl: base, token: key });
    const started = performance.now();
    const sent = Date.now();
    const signal = AbortSignal.timeout(30_000);
    const { task } = await client.createTask(body(n), { idempotencyKey: `bench-${runId}-${tenants.tag}${n}`, signal });
    const accepted = Date.now();
    let status = '';
    let ended = 0;
    for await (const event of client.events(task.id, { signal })) {
      if (event.type !== 'ended') continue;
      status = String((event.data as { status?: string }).status ?? '');
      ended = Date.now();
    }
    if (status !== 'completed') throw new Error(`task ${task.id} ended ${status || 'without an ended event'}`);
    await client.report(task.id, 'markdown', signal);
    out.ms.push(performance.now() - started);
    out.tasks.push({ taskId: task.id, sent, accepted, ended, reported: Date.now() });
  }
  return out;
}
