/**
 * `npm run bench -- --in-process [--tasks 200 --concurrency 16 --time-limit 120]`: the whole pipeline in one process
 * against the real Redis and Postgres. It serves the gateway on a free loopback port and posts tasks to it
 * over HTTP, runs every stage's workers and the provider mocks in this process, waits for every task to
 * end, prints throughput and latencies, and checks the money rules over the run (DESIGN.md §3). Then a
 * repeated workload (the same tenants and themes twice) measures what the tenant's memory saves. It uses its
 * own queue prefix and schema, and removes both at the end.
 *
 * Exit 0: every check passed; 1: a check failed; 2: it could not run (flags, Redis or Postgres).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Worker } from 'bullmq';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createApp } from '../apps/gateway/app.ts';
import { serveApp } from '../apps/runtime/serve.ts';
import { buildStageDeps } from '../apps/runtime/stage-deps.ts';
import { startMocks, type RunningMocks } from '../mocks/index.ts';
import { deletePrefix, redisConnection } from '../queues/connection.ts';
import { QUEUE_NAMES } from '../queues/names.ts';
import { Producer } from '../queues/producer.ts';
import { startWorkers, stopWorkers } from '../queues/worker.ts';
import { reconcile } from '../shared/audit/reconcile.ts';
import { loadConfig } from '../shared/config.ts';
import { dropSchema, migrate, openDatabase, repositories, type Db } from '../shared/db/index.ts';
import { formatMoney } from '../shared/money.ts';
import { withTimeout } from '../shared/timeout.ts';
import { IssuerClient } from '../shared/providers/issuer.ts';
import { keyringFrom } from '../shared/crypto/keyring.ts';
import { cpuSeconds, peakRssMiB, runDetailSizing, startProgram, type SizingLevel } from './sizing.ts';

export const IN_PROCESS_USAGE = `usage: npm run bench -- --in-process [--tasks N (1-2000, default 200)] [--concurrency C (1-256, default 16)] [--time-limit S (1-600, default 120)]
         the whole pipeline and the provider stand-ins in this one process; then a repeated workload (memory) and a shutdown under load
       npm run bench -- --latency MS [--levels 1,4,8,16,32,2x16]   the sizing run: every provider answers in MS ms (0-5000);
         the detail stage's throughput per level (C = DETAIL_CONCURRENCY in one process, PxC = P processes), CPU and RSS
  needs DATABASE_URL (a real Postgres; the bench creates and drops its own schema); REDIS_URL defaults to redis://127.0.0.1:6379
  exit 0: every check passed; 1: a check failed; 2: could not run`;

/** The industries the marketplace mock is known to hold (DESIGN.md §4), one theme per task in turn. */
const THEMES = ['battery', 'semiconductor', 'logistics', 'biotech', 'solar', 'robotics', 'fintech', 'e-commerce'];
const API_KEY = 'bench-key';
const ISSUER_KEY = 'bench-issuer-key';
const POLL_MS = 100;

/** A failure to start or run, printed plainly with exit 2. */
export class CannotRun extends Error {}

function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) throw new CannotRun(`--${name} must be a whole number from ${min} to ${max} (got "${raw}")\n${IN_PROCESS_USAGE}`);
  return n;
}

function readFlags() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        tasks: { type: 'string' },
        concurrency: { type: 'string' },
        'time-limit': { type: 'string' },
        latency: { type: 'string' },
        levels: { type: 'string' },
        'in-process': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CannotRun(`${(err as Error).message}\n${IN_PROCESS_USAGE}`);
  }
  const v = parsed.values;
  return {
    help: v.help ?? false,
    tasks: intFlag('tasks', v.tasks, 200, 1, 2000),
    concurrency: intFlag('concurrency', v.concurrency, 16, 1, 256),
    timeLimitMs: intFlag('time-limit', v['time-limit'], 120, 1, 600) * 1000,
    latencyMs: v.latency === undefined ? undefined : intFlag('latency', v.latency, 0, 0, 5000),
    levels: parseLevels(v.levels ?? '1,4,8,16,32,2x16'),
  };
}

/** `--levels 1,4,2x8`: DETAIL_CONCURRENCY alone (one process) or processes x concurrency. */
function parseLevels(raw: string): SizingLevel[] {
  return raw.split(',').map((entry) => {
    const m = /^(?:(\d{1,2})x)?(\d{1,3})$/.exec(entry.trim());
    const processes = Number(m?.[1] ?? 1);
    const concurrency = Number(m?.[2]);
    if (!m || processes < 1 || processes > 8 || concurrency < 1 || concurrency > 256) throw new CannotRun(`--levels: "${entry}" is not C or PxC (P 1-8 processes, C 1-256)\n${IN_PROCESS_USAGE}`);
    return { processes, concurrency };
  });
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : 'n/a');

/** The in-process bench, or with `--latency` the sizing run. Resolves with the exit status. */
export async function runInProcessBench(): Promise<number> {
  const flags = readFlags();
  if (flags.help) {
    process.stdout.write(`${IN_PROCESS_USAGE}\n`);
    return 0;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new CannotRun(`the bench needs DATABASE_URL: a real Postgres such as postgres://postgres@127.0.0.1:5432/test (it creates and drops its own schema there)\n${IN_PROCESS_USAGE}`);
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const runId = randomBytes(4).toString('hex');

  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('interrupted: cleaning up (Ctrl-C again to quit at once)\n');
  });

  // Everything opened is closed in `finally`, each step on its own.
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const mocks: RunningMocks = await startMocks({
      only: ['tokenIssuer', 'marketplace', 'voiceid'],
      issuerApiKey: ISSUER_KEY,
      receiptSecret: `bench-${runId}`,
      voiceEnrolled: ['demo-voice'],
      // --latency: the marketplace and the issuer answer every call after that long (the mocks' latency fault).
      faults: flags.latencyMs ? { latency_ms: flags.latencyMs } : {},
      ...(flags.latencyMs ? { issuerFaults: { latency_ms: flags.latencyMs } } : {}),
    });
    cleanup.push(() => mocks.close());

    let config;
    try {
      config = loadConfig({
        ...process.env,
        REDIS_URL: redisUrl,
        DATABASE_URL: databaseUrl,
        DATABASE_SCHEMA: `bench_${runId}`,
        QUEUE_PREFIX: `bench-${runId}`,
        MARKETPLACE_URL: mocks.urls.marketplace,
        TOKEN_ISSUER_URL: mocks.urls.tokenIssuer,
        VOICEID_URL: mocks.urls.voiceid,
        TOKEN_ISSUER_API_KEY: ISSUER_KEY,
        // A tenant per task: receipts are reused within a tenant, and the bench must measure paying.
        API_KEYS: [
          ...Array.from({ length: flags.latencyMs === undefined ? flags.tasks : SIZING_TENANTS }, (_, i) => `bench${i}:${API_KEY}-${i}`),
          ...Array.from({ length: SHUTDOWN_TASKS }, (_, i) => `shutdown${i}:${API_KEY}-shutdown-${i}`),
          ...Array.from({ length: REPEAT_TENANTS }, (_, i) => `repeat${i}:${API_KEY}-repeat-${i}`),
        ].join(','),
        // The offline report writer: an LLM's latency is not the pipeline's.
        OPENAI_API_KEY: '',
        OPENAI_BASE_URL: '',
        LOG_LEVEL: process.env.LOG_LEVEL || 'error',
      });
    } catch (err) {
      throw new CannotRun((err as Error).message);
    }
    // Logs go to stderr, so the table on stdout stays readable.
    const log = pino({ name: 'bench', level: config.LOG_LEVEL, base: { pid: process.pid } }, pino.destination(2));

    const producerRedis = redisConnection(redisUrl, 'producer');
    cleanup.push(async () => producerRedis.disconnect());
    try {
      await withTimeout(5_000, producerRedis.ping(), 'Redis');
    } catch (err) {
      throw new CannotRun(`Redis at ${redisUrl} does not answer (${(err as Error).message}); set REDIS_URL`);
    }
    const workerRedis = redisConnection(redisUrl, 'worker');
    cleanup.push(async () => workerRedis.disconnect());

    let database: Db;
    try {
      database = await openDatabase({ databaseUrl, schema: config.DATABASE_SCHEMA, dataDir: config.DATA_DIR, poolSize: 10 });
    } catch (err) {
      throw new CannotRun(`Postgres at DATABASE_URL does not answer: ${(err as Error).message}`);
    }
    cleanup.push(() => database.close());
    cleanup.push(() => dropSchema(database));
    await migrate(database);
    const repos = repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS));

    const producer = new Producer(producerRedis, config.QUEUE_PREFIX);
    cleanup.push(() => deletePrefix(producerRedis, config.QUEUE_PREFIX));
    cleanup.push(() => producer.close());
    const deps = buildStageDeps(config, repos, producer, log, {
      marketplaceUrl: mocks.urls.marketplace!,
      tokenIssuerUrl: mocks.urls.tokenIssuer!,
      voiceIdUrl: mocks.urls.voiceid!,
    });
    const concurrency = { worker: config.WORKER_CONCURRENCY, detail: config.DETAIL_CONCURRENCY };
    if (flags.latencyMs !== undefined) {
      return await sizing({ flags: { ...flags, latencyMs: flags.latencyMs }, config, deps, workerRedis, concurrency, database, producer, cleanup, redisUrl, databaseUrl, mocks, runId });
    }
    const workers: Worker[] = startWorkers([...QUEUE_NAMES], deps, workerRedis, {
      prefix: config.QUEUE_PREFIX,
      concurrency,
      lockMs: config.JOB_LOCK_MS,
      backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
    });
    cleanup.push(() => stopWorkers(workers, 3_000));
    const server = await serveApp(createApp({ repos, database, producer, redis: producerRedis, log, config }), 0, '127.0.0.1');
    cleanup.push(() => server.close());
    const base = `http://127.0.0.1:${server.port}`;

    process.stderr.write(
      `bench ${runId}: ${flags.tasks} tasks, posting ${flags.concurrency} at a time to ${base}; workers in-process (concurrency ${concurrency.worker}, detail ${concurrency.detail}); time limit ${flags.timeLimitMs / 1000} s\n`,
    );

    // Post every task over HTTP, `concurrency` at a time.
    const cpuStart = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + flags.timeLimitMs;
    const postMs: number[] = [];
    const rejected: string[] = [];
    const ids: string[] = [];
    let next = 0;
    const poster = async () => {
      for (let i = next++; i < flags.tasks && !interrupted && performance.now() < deadline; i = next++) {
        const body = { theme: THEMES[i % THEMES.length], budget: '50.00', voiceId: 'demo-voice' };
        const started = performance.now();
        try {
          const res = await fetch(`${base}/v1/tasks`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}-${i}`, 'content-type': 'application/json', 'idempotency-key': `bench-${runId}-${i}` },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          postMs.push(performance.now() - started);
          if (res.status === 202) ids.push((JSON.parse(text) as { id: string }).id);
          else rejected.push(`task ${i}: ${res.status} ${text.slice(0, 200)}`);
        } catch (err) {
          rejected.push(`task ${i}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(flags.concurrency, flags.tasks) }, poster));
    const tPosted = performance.now();

    // Wait until every accepted task has ended (Postgres is the book of record).
    let open = ids.length;
    let lastReport = performance.now();
    while (open > 0 && !interrupted && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const row = await database.db
        .selectFrom('tasks')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('status', 'in', ['queued', 'running'])
        .executeTakeFirstOrThrow();
      open = Number(row.n);
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        process.stderr.write(`  ${((lastReport - t0) / 1000).toFixed(0)} s: ${ids.length - open}/${ids.length} ended\n`);
      }
    }
    const tEnded = performance.now();
    const cpu = process.cpuUsage(cpuStart);
    // Quiet books before they are read: an audit of tasks still moving would race their writes.
    await stopWorkers(workers, 3_000);

    // Measurements, from the books.
    const rows = await database.db
      .selectFrom('tasks')
      .select(['id', 'status', 'error_code', 'created_at', 'ended_at', 'reserved', 'captured', 'refunded', 'budget_limit'])
      .execute();
    const statuses: Record<string, number> = {};
    for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const ended = rows.filter((r) => r.ended_at !== null);
    const latencies = ended.map((r) => r.ended_at!.getTime() - r.created_at.getTime()).sort((a, b) => a - b);
    const firstCreated = Math.min(...rows.map((r) => r.created_at.getTime()));
    const lastEnded = Math.max(...ended.map((r) => r.ended_at!.getTime()));
    const spanS = (lastEnded - firstCreated) / 1000;
    const posts = [...postMs].sort((a, b) => a - b);
    // Where the time goes: from one milestone of a task to the next (queue wait + the previous stage's work).
    const events = await database.db
      .selectFrom('task_events')
      .select(['task_id', 'kind', sql<string | null>`data->>'stage'`.as('stage'), 'created_at'])
      .where('kind', 'in', ['created', 'stage', 'ended'])
      .orderBy('task_id')
      .orderBy('seq')
      .execute();
    const legs = new Map<string, number[]>();
    for (let i = 1; i < events.length; i++) {
      const [prev, cur] = [events[i - 1]!, events[i]!];
      if (prev.task_id !== cur.task_id) continue;
      const leg = `→${cur.kind === 'stage' ? cur.stage : cur.kind}`;
      legs.set(leg, [...(legs.get(leg) ?? []), cur.created_at.getTime() - prev.created_at.getTime()]);
    }
    const legText = [...legs].map(([leg, values]) => `${leg} ${ms(percentile(values.sort((a, b) => a - b), 50))}`).join(', ');
    const spent = rows.reduce((s, r) => s + r.captured - r.refunded, 0);

    // The money rules over the run (DESIGN.md §3), checked against the issuer's own books.
    const { checked, differences } = await reconcile(repos, new IssuerClient(mocks.urls.tokenIssuer!, ISSUER_KEY, 10_000));
    const failedCodes = new Map<string, number>();
    for (const r of rows) if (r.status !== 'completed') failedCodes.set(r.error_code ?? r.status, (failedCodes.get(r.error_code ?? r.status) ?? 0) + 1);
    const checks: Array<{ name: string; ok: boolean; detail: string }> = [
      { name: 'every POST accepted (202)', ok: rejected.length === 0 && ids.length === flags.tasks, detail: `${ids.length}/${flags.tasks}${rejected.length ? `; first refusal: ${rejected[0]}` : ''}` },
      { name: 'every task ended in time', ok: open === 0 && ended.length === rows.length, detail: `${ended.length}/${rows.length}${interrupted ? ' (interrupted)' : ''}` },
      { name: 'every task completed', ok: (statuses.completed ?? 0) === ids.length, detail: failedCodes.size ? [...failedCodes].map(([c, n]) => `${c} ×${n}`).join(', ') : `${statuses.completed ?? 0}` },
      { name: 'nothing reserved after the end', ok: rows.every((r) => r.reserved === 0), detail: `${rows.filter((r) => r.reserved !== 0).length} task(s) still hold money` },
      { name: 'spent ≤ budget for every task', ok: rows.every((r) => r.captured - r.refunded + r.reserved <= r.budget_limit), detail: `${rows.filter((r) => r.captured - r.refunded + r.reserved > r.budget_limit).length} over` },
      {
        name: 'ledger = issuer (reconcile)',
        ok: differences.length === 0 && checked.length === rows.length,
        detail: differences.length ? differences.slice(0, 3).map((d) => `${d.taskId} ${d.kind}: ${d.detail}`).join('; ') : `${checked.length} task(s), 0 differences`,
      },
    ];

    // Memory on a repeated workload: the same tenants research the same themes twice; the second round
    // should buy nothing it already owns.
    const repeat = await measureRepeatedWorkload({ base, runId, deps, workerRedis, config, concurrency, database, issuer: new IssuerClient(mocks.urls.tokenIssuer!, ISSUER_KEY, 10_000) });
    // Round 2 never buys again what round 1 bought. It may choose otherwise: what it owns costs nothing, so
    // the budget reaches a higher-ranked company round 1 could not afford, which may push a lower-ranked
    // owned one past maxCompanies.
    const rebought = [...repeat.second.bought].filter((k) => repeat.first.bought.has(k)).length;
    const reusedOfFirst = [...repeat.first.bought].filter((k) => repeat.second.reusedKeys.has(k)).length;
    checks.push({
      name: 'repeat round buys nothing it owns',
      ok: repeat.first.records > 0 && repeat.second.reused > 0 && rebought === 0 && repeat.differences === 0,
      detail: `round 2 reused ${reusedOfFirst}/${repeat.first.records} records of round 1 (the rest not chosen again), bought ${rebought} of them again; ledger = issuer for ${repeat.tasks} task(s), ${repeat.differences} difference(s)`,
    });

    // Shutdown with work in flight (the goal the fault suite checks only with a wide margin): fresh
    // workers, a burst of tasks, and SIGTERM's path — stopWorkers — timed once detail jobs are running.
    const shutdown = await timeShutdownUnderLoad({ base, runId, deps, workerRedis, config, concurrency });
    checks.push({
      name: 'shutdown within its budget',
      ok: shutdown.ms <= config.SHUTDOWN_TIMEOUT_MS + SHUTDOWN_HAND_BACK_MS,
      detail: `${ms(shutdown.ms)} with ${shutdown.inFlight} job(s) in flight (budget ${config.SHUTDOWN_TIMEOUT_MS} ms + ${SHUTDOWN_HAND_BACK_MS} ms to hand back)`,
    });

    const table: Array<[string, string]> = [
      ['tasks (completed/other)', `${statuses.completed ?? 0} / ${rows.length - (statuses.completed ?? 0)}`],
      ['throughput end to end', `${(ended.length / spanS).toFixed(1)} tasks/s (first created → last ended ${spanS.toFixed(2)} s)`],
      ['wall time', `${((tEnded - t0) / 1000).toFixed(2)} s (posting ${((tPosted - t0) / 1000).toFixed(2)} s)`],
      ['task latency p50/p95/p99', `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 95))} / ${ms(percentile(latencies, 99))} (max ${ms(latencies.at(-1) ?? NaN)})`],
      ['step times p50', legText],
      ['POST /v1/tasks p50/p99', `${ms(percentile(posts, 50))} / ${ms(percentile(posts, 99))}`],
      ['peak RSS', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`],
      ['CPU (user+sys)', `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${((cpu.user + cpu.system) / 1e3 / (tEnded - t0)).toFixed(2)} cores)`],
      ['money spent', `${formatMoney(spent)} CNY over ${rows.length} tasks`],
      [
        'repeated workload (memory)',
        `${REPEAT_TENANTS} tenants × 2 rounds of one theme each: round 1 spent ${formatMoney(repeat.first.spent)} CNY for ${repeat.first.records} records; ` +
          `round 2 spent ${formatMoney(repeat.second.spent)} CNY (${repeat.second.records} records new to it), reused ${repeat.second.reused} from memory, saving ${formatMoney(repeat.second.saved)} CNY ` +
          `(${repeat.first.spent ? ((100 * repeat.second.saved) / repeat.first.spent).toFixed(0) : '0'} % of round 1); ${repeat.second.cachedSearches}/${repeat.second.searches} searches from the cache; ` +
          `round latency p50 ${ms(repeat.first.p50)} → ${ms(repeat.second.p50)}`,
      ],
    ];
    const width = Math.max(...table.map(([k]) => k.length), ...checks.map((c) => c.name.length + 5));
    const out = [
      `pipeline bench: ${flags.tasks} tasks, post concurrency ${flags.concurrency}, Redis ${redisUrl}, Postgres schema ${config.DATABASE_SCHEMA}`,
      ...table.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
      'checks:',
      ...checks.map((c) => `  ${(c.ok ? 'ok   ' : 'FAIL ') + c.name.padEnd(width - 5)}  ${c.detail}`),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    return checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    for (const step of cleanup.reverse()) await withTimeout(10_000, step(), 'cleanup').catch((err) => process.stderr.write(`cleanup: ${(err as Error).message}\n`));
  }
}

/** Tenants of the repeated workload: each runs one theme twice. */
const REPEAT_TENANTS = 8;

interface RoundFigures {
  /** Captured − refunded over the round's tasks, in fen. */
  spent: number;
  /** Records bought (round 1) and records reused from memory (round 2). */
  records: number;
  reused: number;
  /** The listed prices of the reused records, in fen. */
  saved: number;
  /** `tenant/company` of every record bought in the round. */
  bought: Set<string>;
  /** `tenant/company` of every record reused in the round. */
  reusedKeys: Set<string>;
  searches: number;
  cachedSearches: number;
  p50: number;
}

/**
 * The repeated workload: REPEAT_TENANTS tenants each post one theme, then — once every task has ended —
 * the same theme again. Measures what the second round spent and what memory saved it (the listed
 * prices of the records it reused), and checks the books of both rounds against the issuer.
 */
async function measureRepeatedWorkload(input: {
  base: string;
  runId: string;
  deps: Parameters<typeof startWorkers>[1];
  workerRedis: Parameters<typeof startWorkers>[2];
  config: ReturnType<typeof loadConfig>;
  concurrency: { worker: number; detail: number };
  database: Db;
  issuer: IssuerClient;
}): Promise<{ first: RoundFigures; second: RoundFigures; tasks: number; differences: number }> {
  const { config, database } = input;
  const workers = startWorkers([...QUEUE_NAMES], input.deps, input.workerRedis, { prefix: config.QUEUE_PREFIX, concurrency: input.concurrency, lockMs: config.JOB_LOCK_MS });
  const ids: string[] = [];
  try {
    const round = async (n: number): Promise<RoundFigures> => {
      const posted = await Promise.all(
        Array.from({ length: REPEAT_TENANTS }, async (_, i) => {
          const res = await fetch(`${input.base}/v1/tasks`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}-repeat-${i}`, 'content-type': 'application/json', 'idempotency-key': `bench-${input.runId}-repeat-${i}-${n}` },
            body: JSON.stringify({ theme: THEMES[i % THEMES.length], budget: '50.00', voiceId: 'demo-voice', maxCompanies: 5 }),
            signal: AbortSignal.timeout(10_000),
          });
          if (res.status !== 202) throw new CannotRun(`repeated workload: POST /v1/tasks answered ${res.status}: ${await res.text()}`);
          return ((await res.json()) as { id: string }).id;
        }),
      );
      ids.push(...posted);
      const deadline = performance.now() + 60_000;
      for (;;) {
        const open = await database.db.selectFrom('tasks').select('id').where('id', 'in', posted).where('status', 'in', ['queued', 'running']).execute();
        if (open.length === 0) break;
        if (performance.now() > deadline) throw new CannotRun(`repeated workload: ${open.length} task(s) of round ${n} still open after 60 s`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const tasks = await database.db.selectFrom('tasks').select(['captured', 'refunded', 'created_at', 'ended_at']).where('id', 'in', posted).execute();
      const companies = await database.db
        .selectFrom('companies')
        .innerJoin('tasks', 'tasks.id', 'companies.task_id')
        .select(['companies.status', 'companies.price', 'companies.company_id', 'tasks.tenant'])
        .where('companies.task_id', 'in', posted)
        .execute();
      const keys = (status: string) => new Set(companies.filter((c) => c.status === status).map((c) => `${c.tenant}/${c.company_id}`));
      const events = await database.db.selectFrom('task_events').select('data').where('task_id', 'in', posted).where('kind', '=', 'searched').execute();
      const searched = events.map((e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as { queries?: string[]; cachedSearches?: number });
      const reused = companies.filter((c) => c.status === 'reused');
      const latencies = tasks.map((t) => t.ended_at!.getTime() - t.created_at.getTime()).sort((a, b) => a - b);
      return {
        spent: tasks.reduce((sum, t) => sum + t.captured - t.refunded, 0),
        records: companies.filter((c) => c.status === 'bought').length,
        reused: reused.length,
        saved: reused.reduce((sum, c) => sum + c.price, 0),
        bought: keys('bought'),
        reusedKeys: keys('reused'),
        searches: searched.reduce((sum, e) => sum + (e.queries?.length ?? 0), 0),
        cachedSearches: searched.reduce((sum, e) => sum + (e.cachedSearches ?? 0), 0),
        p50: percentile(latencies, 50),
      };
    };
    const first = await round(1);
    const second = await round(2);
    let differences = 0;
    for (const id of ids) differences += (await reconcile(input.deps.repos, input.issuer, id)).differences.length;
    return { first, second, tasks: ids.length, differences };
  } finally {
    await stopWorkers(workers, 3_000);
  }
}

/** Tasks (each its own tenant) posted for the shutdown measurement. */
const SHUTDOWN_TASKS = 8;

/** After SHUTDOWN_TIMEOUT_MS, stopWorkers gives handing jobs back and closing at most this long. */
const SHUTDOWN_HAND_BACK_MS = 1_000;

/**
 * Starts a fresh set of workers, posts a burst of tasks, and once detail jobs are running times
 * stopWorkers (what SIGTERM runs). The tasks are left unfinished; the bench's schema goes with them.
 */
async function timeShutdownUnderLoad(input: {
  base: string;
  runId: string;
  deps: Parameters<typeof startWorkers>[1];
  workerRedis: Parameters<typeof startWorkers>[2];
  config: ReturnType<typeof loadConfig>;
  concurrency: { worker: number; detail: number };
}): Promise<{ ms: number; inFlight: number }> {
  const { config } = input;
  const workers = startWorkers([...QUEUE_NAMES], input.deps, input.workerRedis, { prefix: config.QUEUE_PREFIX, concurrency: input.concurrency, lockMs: config.JOB_LOCK_MS });
  for (let i = 0; i < SHUTDOWN_TASKS; i++) {
    const res = await fetch(`${input.base}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}-shutdown-${i}`, 'content-type': 'application/json', 'idempotency-key': `bench-${input.runId}-shutdown-${i}` },
      body: JSON.stringify({ theme: THEMES[i % THEMES.length], budget: '50.00', voiceId: 'demo-voice' }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 202) throw new CannotRun(`shutdown phase: POST /v1/tasks answered ${res.status}: ${await res.text()}`);
  }
  const detail = input.deps.producer.queues.detail;
  const until = performance.now() + 10_000;
  let inFlight = 0;
  while (performance.now() < until && (inFlight = await detail.getActiveCount()) === 0) await new Promise((r) => setTimeout(r, 5));
  const t = performance.now();
  await stopWorkers(workers, config.SHUTDOWN_TIMEOUT_MS);
  return { ms: performance.now() - t, inFlight };
}

/** Tenants of the sizing run (a tenant per task, so each one pays rather than reusing a record). */
const SIZING_TENANTS = 600;
/** Companies each sizing task buys (budget ample for all of them). */
const SIZING_COMPANIES = 5;

/**
 * `--latency MS`: the sizing run (bench/sizing.ts). The gateway runs as a child process (its CPU and RSS
 * are measured while it takes every task), search/authorize/report/dashboard/webhook in this process, and
 * the detail stage in child processes per level. Exit 0 when every level ran and the books reconcile.
 */
async function sizing(input: {
  flags: ReturnType<typeof readFlags> & { latencyMs: number };
  config: ReturnType<typeof loadConfig>;
  deps: Parameters<typeof startWorkers>[1];
  workerRedis: Parameters<typeof startWorkers>[2];
  concurrency: { worker: number; detail: number };
  database: Db;
  producer: Producer;
  cleanup: Array<() => Promise<unknown>>;
  redisUrl: string;
  databaseUrl: string;
  mocks: RunningMocks;
  runId: string;
}): Promise<number> {
  const { flags, config, mocks } = input;
  const others = QUEUE_NAMES.filter((q) => q !== 'detail');
  const workers = startWorkers(others, input.deps, input.workerRedis, { prefix: config.QUEUE_PREFIX, concurrency: input.concurrency, lockMs: config.JOB_LOCK_MS });
  input.cleanup.push(() => stopWorkers(workers, 3_000));
  const env: NodeJS.ProcessEnv = {
    REDIS_URL: input.redisUrl,
    DATABASE_URL: input.databaseUrl,
    DATABASE_SCHEMA: config.DATABASE_SCHEMA,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    MARKETPLACE_URL: mocks.urls.marketplace,
    TOKEN_ISSUER_URL: mocks.urls.tokenIssuer,
    VOICEID_URL: mocks.urls.voiceid,
    TOKEN_ISSUER_API_KEY: ISSUER_KEY,
    OPENAI_API_KEY: '',
  };
  const apiKeys = Array.from({ length: SIZING_TENANTS }, (_, i) => `bench${i}:${API_KEY}-${i}`).join(',');
  const gateway = await startProgram(['apps/gateway/main.ts'], { ...env, API_KEYS: apiKeys, PORT: '0', HOST: '127.0.0.1' }, /gateway listening/);
  input.cleanup.push(() => gateway.stop());
  const port = Number(/"port":(\d+)/.exec(gateway.line)?.[1]);
  const gatewayCpu0 = cpuSeconds(gateway.child.pid!);
  process.stderr.write(`bench ${input.runId}: sizing with every provider call taking ${flags.latencyMs} ms; gateway pid ${gateway.child.pid} on port ${port}\n`);

  const post = async (base: string, i: number): Promise<string> => {
    if (i >= SIZING_TENANTS) throw new CannotRun(`sizing: more than ${SIZING_TENANTS} tasks; use fewer or smaller --levels`);
    let res: Response;
    // A 503 (a dependency slow to answer on a loaded machine) is retried, as a client would, with the same Idempotency-Key.
    for (let attempt = 1; ; attempt++) {
      res = await fetch(`${base}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}-${i}`, 'content-type': 'application/json', 'idempotency-key': `bench-${input.runId}-sizing-${i}` },
        body: JSON.stringify({ theme: THEMES[i % THEMES.length], budget: '200.00', voiceId: 'demo-voice', maxCompanies: SIZING_COMPANIES }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 503 || attempt === 5) break;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
    if (res.status !== 202) throw new CannotRun(`sizing: POST /v1/tasks answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  };
  const t0 = performance.now();
  const { results, tasksPosted } = await runDetailSizing(
    { env, levels: flags.levels, post, detail: input.producer.queues.detail, database: input.database, jobsPerTask: SIZING_COMPANIES, log: (l) => process.stderr.write(`${l}\n`) },
    `http://127.0.0.1:${port}`,
    0,
  );
  const gatewayCpu = cpuSeconds(gateway.child.pid!) - gatewayCpu0;
  const gatewayRss = peakRssMiB(gateway.child.pid!);
  const wallS = (performance.now() - t0) / 1000;
  await stopWorkers(workers, 3_000);

  const { checked, differences } = await reconcile(input.deps.repos, new IssuerClient(mocks.urls.tokenIssuer!, ISSUER_KEY, 10_000));
  const rows = await input.database.db.selectFrom('tasks').select(['status', 'reserved']).execute();
  const completed = rows.filter((r) => r.status === 'completed').length;
  const single = results.find((r) => r.processes === 1 && r.concurrency === 1);
  const jobS = single ? 1 / single.rate : NaN;
  const lines = [
    `sizing: detail stage, every provider call ${flags.latencyMs} ms (one detail job = ${single ? `${(jobS * 1000).toFixed(0)} ms alone); ideal = processes × concurrency ÷ that` : '?: add level 1 to --levels for the ideal)'}`,
    '  processes × concurrency | jobs | detail jobs/s | ideal | of ideal | CPU (cores) | CPU ms/job | peak RSS/process | bench process (cores)',
    ...results.map((r) => {
      const ideal = (r.processes * r.concurrency) / jobS;
      const [idealText, share] = Number.isFinite(ideal) ? [ideal.toFixed(1), `${((100 * r.rate) / ideal).toFixed(0)} %`] : ['n/a', 'n/a'];
      return `  ${`${r.processes} × ${r.concurrency}`.padEnd(23)} | ${String(r.jobs).padStart(4)} | ${r.rate.toFixed(1).padStart(13)} | ${idealText.padStart(5)} | ${share.padStart(8)} | ${r.cores.toFixed(2).padStart(11)} | ${r.cpuMsPerJob.toFixed(1).padStart(10)} | ${`${r.peakRssMiB.toFixed(0)} MiB`.padStart(16)} | ${r.benchCores.toFixed(2)}`;
    }),
    `gateway process: ${tasksPosted} POST /v1/tasks in ${wallS.toFixed(0)} s, CPU ${gatewayCpu.toFixed(2)} s (${((gatewayCpu * 1000) / tasksPosted).toFixed(1)} ms a task, with its reads of the books), peak RSS ${gatewayRss.toFixed(0)} MiB`,
    `books: ${completed}/${rows.length} tasks completed, ${rows.filter((r) => r.reserved !== 0).length} still holding money, ledger = issuer: ${differences.length === 0 && checked.length === rows.length ? 'yes' : `NO (${differences.length} difference(s))`}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const ok = results.length === flags.levels.length && completed === rows.length && differences.length === 0 && checked.length === rows.length;
  return ok ? 0 : 1;
}
