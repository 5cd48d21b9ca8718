import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../apps/gateway/app.ts';
import { startMocks, type FaultConfig, type RunningMocks } from '../../mocks/index.ts';
import { Producer } from '../../queues/producer.ts';
import { deletePrefix, redisConnection, type RedisClient } from '../../queues/connection.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { loadConfig, redisTarget } from '../../shared/config.ts';
import { dropSchema, migrate, openDatabase, repositories, type Db, type Repositories } from '../../shared/db/index.ts';
import { createLogger } from '../../shared/log.ts';
import { TransientError } from '../../shared/errors.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { programArgs } from './programs.ts';
import { TEST_SESSION } from './harness.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const CLUSTER_KEY = 'cluster-key';
const ISSUER_KEY = 'cluster-issuer-key';

export interface ClusterOptions {
  redisUrl: string;
  /** A Redis Cluster's nodes (REDIS_CLUSTER_NODES): when given, every process here and in the workers uses it instead of redisUrl. */
  redisClusterNodes?: string;
  databaseUrl: string;
  /** Database URL the worker processes use (e.g. through a proxy that a test cuts); default databaseUrl. */
  workerDatabaseUrl?: string;
  workers: number;
  faults?: FaultConfig;
  /** Faults of the token issuer (latency, 429, 5xx before it changes anything). */
  issuerFaults?: FaultConfig;
  env?: Record<string, string>;
}

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Several real worker processes (`apps/worker/main.ts`) on one Redis and one Postgres schema, the
 * provider mocks in this process, and a gateway app for posting tasks. For the fault-injection suite.
 */
export class Cluster {
  readonly id = randomBytes(4).toString('hex');
  readonly schema = `t_${this.id}`;
  readonly prefix = `t-${this.id}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'arp-cluster-'));
  readonly procs: (WorkerProcess | undefined)[] = [];
  mocks!: RunningMocks;
  database!: Db;
  repos!: Repositories;
  issuer!: IssuerClient;
  app!: ReturnType<typeof createApp>;
  redis!: RedisClient;
  producer!: Producer;
  private workerEnv!: Record<string, string>;
  readonly logs: string[] = [];

  constructor(private readonly opts: ClusterOptions) {}

  async start(): Promise<void> {
    this.mocks = await startMocks({ issuerApiKey: ISSUER_KEY, receiptSecret: 'cluster-secret', dataDir: this.dataDir, faults: this.opts.faults ?? {}, ...(this.opts.issuerFaults ? { issuerFaults: this.opts.issuerFaults } : {}), only: ['tokenIssuer', 'marketplace', 'voiceid'] });
    this.database = await openDatabase({ databaseUrl: this.opts.databaseUrl, schema: this.schema, dataDir: this.dataDir, poolSize: 5, settings: TEST_SESSION });
    await migrate(this.database);
    this.repos = repositories(this.database, keyringFrom(undefined));
    this.issuer = new IssuerClient(this.mocks.urls.tokenIssuer!, ISSUER_KEY, 5_000);
    const redisEnv = { REDIS_URL: this.opts.redisUrl, ...(this.opts.redisClusterNodes ? { REDIS_CLUSTER_NODES: this.opts.redisClusterNodes } : {}) };
    const config = loadConfig({ API_KEYS: `acme:${CLUSTER_KEY}`, LOG_LEVEL: 'silent', QUEUE_PREFIX: this.prefix, ...redisEnv });
    this.redis = redisConnection(redisTarget(config)!, 'producer');
    this.producer = new Producer(this.redis, this.prefix);
    this.app = createApp({ repos: this.repos, database: this.database, producer: this.producer, redis: this.redis, log: createLogger('silent'), config });
    this.workerEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...redisEnv,
      DATABASE_URL: this.opts.workerDatabaseUrl ?? this.opts.databaseUrl,
      DATABASE_SCHEMA: this.schema,
      QUEUE_PREFIX: this.prefix,
      MARKETPLACE_URL: this.mocks.urls.marketplace!,
      TOKEN_ISSUER_URL: this.mocks.urls.tokenIssuer!,
      VOICEID_URL: this.mocks.urls.voiceid!,
      TOKEN_ISSUER_API_KEY: ISSUER_KEY,
      LOG_LEVEL: 'warn',
      JOB_LOCK_MS: '2500',
      SWEEP_INTERVAL_MS: '1000',
      STALE_TASK_MS: '4000',
      PROVIDER_TIMEOUT_MS: '1500',
      RETRY_BASE_MS: '100',
      RETRY_MAX_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '2000',
      DATA_DIR: this.dataDir,
      ...this.opts.env,
    };
    for (let i = 0; i < this.opts.workers; i++) this.spawnWorker(i);
  }

  /** Every worker process ever started here, so close() leaves none behind. */
  private readonly spawned: WorkerProcess[] = [];
  private closed = false;

  /** Starts worker process `i` (all stages); a slot whose process still runs keeps it. */
  spawnWorker(i: number): WorkerProcess | undefined {
    if (this.closed) return undefined;
    const current = this.procs[i];
    if (current && current.child.exitCode === null && current.child.signalCode === null) return current;
    const child = spawn(process.execPath, programArgs('apps/worker/main.ts'), { cwd: ROOT, env: this.workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.logs.push(`[w${i}] ${d.toString().trimEnd()}`);
      if (this.logs.length > 400) this.logs.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    this.procs[i] = { child, exited };
    this.spawned.push(this.procs[i]!);
    return this.procs[i]!;
  }

  /** SIGKILL: no chance to clean up, as in a crash or an OOM kill. */
  async kill(i: number): Promise<void> {
    const p = this.procs[i];
    if (!p || p.child.exitCode !== null) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async post(body: Record<string, unknown>): Promise<string> {
    const res = await this.app.request('/v1/tasks', {
      method: 'POST',
      headers: { authorization: `Bearer ${CLUSTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  async cancel(id: string): Promise<number> {
    const res = await this.app.request(`/v1/tasks/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${CLUSTER_KEY}` } });
    return res.status;
  }

  /** Waits until some task has reached a stage (the workers are up and busy). */
  async waitForStage(ids: string[], stage: 'search' | 'authorize' | 'detail' | 'report', timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.database.db.selectFrom('tasks').select('id').where('id', 'in', ids).where('stage', '=', stage).executeTakeFirst())) {
      if (Date.now() > deadline) throw new Error(`no task reached ${stage} within ${timeoutMs} ms\n${this.logs.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until every task has ended. */
  async waitAllEnded(ids: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await this.database.db.selectFrom('tasks').select(['id', 'status', 'stage']).where('id', 'in', ids).execute();
      const open = rows.filter((r) => r.status === 'queued' || r.status === 'running');
      if (open.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`tasks still open after ${timeoutMs} ms: ${open.map((r) => `${r.id}@${r.stage}`).join(', ')}\n${this.logs.slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Every invariant of the money rules, for each task, against the issuer's own books. An issuer with
   * injected faults may refuse a read now and then: the whole check is then made again.
   */
  async checkInvariants(ids: string[]): Promise<{ statuses: Record<string, number> }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.checkInvariantsOnce(ids);
      } catch (err) {
        if (!(err instanceof TransientError) || attempt >= 5) throw err;
      }
    }
  }

  private async checkInvariantsOnce(ids: string[]): Promise<{ statuses: Record<string, number> }> {
    const problems: string[] = [];
    const statuses: Record<string, number> = {};
    for (const id of ids) {
      const task = (await this.repos.tasks.get(id))!;
      statuses[task.status] = (statuses[task.status] ?? 0) + 1;
      if (!['completed', 'failed', 'cancelled'].includes(task.status)) problems.push(`${id}: not ended (${task.status})`);
      if (task.status === 'failed' && !task.error_code) problems.push(`${id}: failed without a reason`);
      if (task.reserved !== 0) problems.push(`${id}: ${task.reserved} still reserved`);
      if (task.captured - task.refunded + task.reserved > task.budget_limit) problems.push(`${id}: over budget`);
      const tokens = await this.issuer.tokensFor(id);
      for (const t of tokens) {
        if (t.status === 'active') problems.push(`${id}: token ${t.id} still active`);
        if (t.spent > t.limit) problems.push(`${id}: issuer spent over limit`);
        const perResource = new Map<string, number>();
        for (const c of t.charges) perResource.set(c.description ?? '', (perResource.get(c.description ?? '') ?? 0) + 1);
        for (const [resource, n] of perResource) if (n > 1) problems.push(`${id}: ${resource} charged ${n} times`);
      }
      const companies = await this.repos.companies.list(id);
      for (const c of companies) if (c.status === 'found') problems.push(`${id}: company ${c.company_id} left as found`);
    }
    const { differences } = await reconcile(this.repos, this.issuer);
    for (const d of differences) if (ids.includes(d.taskId)) problems.push(`reconcile ${d.taskId} ${d.kind}: ${d.detail}`);
    if (problems.length) throw new Error(`invariants broken:\n${problems.join('\n')}`);
    return { statuses };
  }

  /**
   * Every task's story is whole (issue 13): its events numbered 1..n with no gap and no repeat, `created`
   * first and `ended` last and once (with the task's final status), and exactly one `payment` event per
   * ledger row — same company, movement and amount, each company's in the order they were booked.
   */
  async checkStories(ids: string[]): Promise<{ events: number }> {
    const problems: string[] = [];
    let total = 0;
    for (const id of ids) {
      const events = await this.repos.events.since(id, 0, 100_000);
      total += events.length;
      const task = (await this.repos.tasks.get(id))!;
      if (events.some((e, i) => e.seq !== i + 1)) problems.push(`${id}: seq not 1..${events.length}`);
      if (task.event_seq !== events.length) problems.push(`${id}: event_seq ${task.event_seq}, ${events.length} events`);
      if (events[0]?.type !== 'created') problems.push(`${id}: does not start with created`);
      const ended = events.filter((e) => e.type === 'ended');
      if (ended.length !== 1 || events.at(-1)?.type !== 'ended') problems.push(`${id}: ${ended.length} ended events, last is ${events.at(-1)?.type}`);
      else if (ended[0]!.data.status !== task.status) problems.push(`${id}: ended says ${String(ended[0]!.data.status)}, task is ${task.status}`);
      const stages = events.filter((e) => e.type === 'stage').map((e) => String(e.data.stage));
      if (new Set(stages).size !== stages.length) problems.push(`${id}: a stage told twice (${stages.join(',')})`);
      const payments = new Map((await this.repos.payments.forTask(id)).map((p) => [p.id, p.company_id]));
      const books = (await this.repos.payments.ledger(id)).map((l) => `${payments.get(l.payment_id)} ${l.kind} ${(l.amount / 100).toFixed(2)}`);
      const told = events.filter((e) => e.type === 'payment').map((e) => `${String(e.data.companyId)} ${String(e.data.movement)} ${String(e.data.amount)}`);
      // The same movements (a ledger id is drawn before the task row's lock, so concurrent purchases may book
      // in another order than they commit; the story's order is the commit order), and per company in the same order.
      const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b);
      const perCompany = (list: string[]) => [...payments.values()].map((c) => list.filter((m) => m.startsWith(`${c} `)));
      if (!same([...told].sort(), [...books].sort()) || !same(perCompany(told).flat(), perCompany(books).flat())) {
        problems.push(`${id}: payment events ${JSON.stringify(told)} ≠ ledger ${JSON.stringify(books)}`);
      }
    }
    if (problems.length) throw new Error(`stories broken:\n${problems.join('\n')}`);
    return { events: total };
  }

  /** The dashboard counted every ledger row of these tasks exactly once (waits for stragglers). */
  async waitDashboardCaughtUp(ids: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind: string[] = [];
      for (const id of ids) {
        const ledger = await this.repos.payments.ledger(id);
        const usage = await this.repos.dashboard.forTask(id);
        const sum = (k: string) => ledger.filter((l) => l.kind === k).reduce((s, l) => s + l.amount, 0);
        const ok =
          ledger.length === 0
            ? !usage
            : usage && usage.events === ledger.length && usage.reserved === sum('reserve') && usage.captured === sum('capture') && usage.released === sum('release') && usage.refunded === sum('refund');
        if (!ok) behind.push(id);
      }
      if (behind.length === 0) return;
      if (Date.now() > deadline) throw new Error(`dashboard does not match the ledger for ${behind.join(', ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * The slot of the worker process running one of these detail jobs right now (BullMQ stores the
   * worker's name, `<host>:<pid>`, on the job it takes), or undefined.
   */
  async workerRunning(queue: 'detail', wanted: { taskId: string; companyId: string }[]): Promise<number | undefined> {
    const keys = new Set(wanted.map((w) => `${w.taskId}/${w.companyId}`));
    for (const job of await this.producer.queues[queue].getActive()) {
      if (!keys.has(`${job.data.taskId}/${job.data.companyId}`)) continue;
      const pid = Number(job.processedBy?.split(':').pop());
      const slot = this.procs.findIndex((p) => p?.child.pid === pid && p.child.exitCode === null && p.child.signalCode === null);
      if (slot >= 0) return slot;
    }
    return undefined;
  }

  /**
   * Whether worker process `i` runs and has its detail worker connected to Redis (BullMQ names the
   * connection `<prefix>:<queue>:w:<host>:<pid>`): a process still starting cannot take a job yet.
   */
  async workerReady(i: number): Promise<boolean> {
    const p = this.procs[i];
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return false;
    // BullMQ gives the connection's own name as `rawname` (`name` is the queue's).
    const names = (await this.producer.queues.detail.getWorkers()).map((w) => String(w.rawname ?? ''));
    return names.some((name) => name.endsWith(`:${p.child.pid}`));
  }

  /** Jobs of a queue that a dead worker left behind and another worker took up (BullMQ counted a stall). */
  async interruptedJobs(queue: 'detail' | 'report' | 'search' | 'authorize') {
    const jobs = await this.producer.queues[queue].getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
    return jobs.filter((j) => j.stalledCounter > 0);
  }

  /** SIGTERM every worker; each must be gone within its shutdown budget. Returns the slowest, in ms. */
  async stopWorkers(): Promise<number> {
    let slowest = 0;
    await Promise.all(
      this.procs.map(async (p) => {
        if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
        const t0 = Date.now();
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await p.exited;
        clearTimeout(timer);
        slowest = Math.max(slowest, Date.now() - t0);
      }),
    );
    return slowest;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.spawned) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.spawned.map((p) => p.exited));
    await this.producer?.close();
    if (this.redis) {
      await deletePrefix(this.redis, this.prefix).catch(() => undefined);
      this.redis.disconnect();
    }
    if (this.database) {
      await dropSchema(this.database).catch(() => undefined);
      await this.database.close();
    }
    await this.mocks?.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
