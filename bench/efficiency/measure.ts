/**
 * One layout measured: started, warmed up, a task alone timed submit → report, then the measured window —
 * N tasks posted C at a time until everything they caused is done — with every counter read before and
 * after it: each process's CPU (/proc), Redis (INFO), Postgres (its backends' CPU, pg_stat_database,
 * pg_stat_wal, our WAL records), the processes' statement and job counters (/metrics). Then the books.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { runBare, type BareFigures } from './bare.ts';
import { booksOk, checkBooks, layoutEnv, providerStandIns, queuePrefixOf, type Bench, type Books } from './bench.ts';
import { startLayout, type LayoutKind } from './layouts.ts';
import type { Runner } from './programs.ts';
import { postTasks, submitToReport, Tenants, waitDone, type Posted } from './load.ts';
import { delta, JOBS, scrape, STATEMENTS, sumBy, type Samples } from './metrics.ts';
import { backgroundProcesses, databaseCounters, holdWal, ourWal, productBackends, walCounters, walFlushedLsn, walInsertLsn, type OurWal } from './postgres.ts';
import { cpuSeconds, CpuLedger, peakRssMiB, rssMiB } from './proc.ts';
import { callsBetween, redisInfo } from './redis.ts';
import { percentile } from './stats.ts';
import { timelineOf, TIMELINE_STEPS, type TimelineStep } from './timeline.ts';

export interface MeasureFlags {
  bareTasks: number;
  tasks: number;
  warmup: number;
  alone: number;
  concurrency: number;
  timeLimitMs: number;
}

export interface ProcessFigures {
  name: string;
  cpuMsPerTask: number;
  /** CPU with nothing to do (timers, BullMQ's polling), core-ms per second. */
  idleMsPerS: number;
  statementsPerTask: number;
  rssMiB: number;
  peakRssMiB: number;
  errors: { count: number; last: string[] };
}

export interface LayoutFigures {
  kind: LayoutKind;
  runner: Runner;
  /** The bare BullMQ graph, run just before this layout's window (the machine is shared: its load moves). */
  bare: BareFigures;
  tasks: number;
  windowS: number;
  tasksPerS: number;
  loadBefore: number;
  loadAfter: number;
  processes: ProcessFigures[];
  /** CPU ms per task of the shared servers: Redis, the Postgres backends serving the product (and how many). */
  redisCpuMs: number;
  /** Redis with the product idle: core-ms and commands per second. */
  redisIdle: { msPerS: number; callsPerS: number };
  postgresCpuMs: number;
  postgresBackends: number;
  /** The server's own processes (WAL writer, checkpointer, autovacuum…), cluster-wide: noted, not counted. */
  postgresBackgroundCpuMs: number;
  /** The bench's own process (provider stand-ins, load): not counted. */
  benchCpuMs: number;
  productCpuMs: number;
  statements: { query: number; begin: number; commit: number; rollback: number };
  /** pg_stat_database, less the bench's own statements; approximate (see `statsNote`). */
  transactions: number;
  rollbacks: number;
  rowsWritten: { inserted: number; updated: number; deleted: number };
  wal?: OurWal;
  walNote?: string;
  clusterWal: { bytes: number; syncs: number; writes: number };
  jobs: Map<string, number>;
  jobAttemptsOther: number;
  redisCalls: number;
  redisTop: Array<[string, number]>;
  eventStreams: Map<string, number>;
  /** Redis used_memory growth over the window, per task: the jobs and stream entries kept. */
  redisMemoryPerTask: number;
  latency: { p50: number; p95: number; p99: number; max: number };
  postMs: { p50: number; p99: number };
  retried503: number;
  refused: string[];
  aloneMs: number[];
  /** Each step's milliseconds, for every task run alone (timeline.ts). */
  aloneSteps: Map<TimelineStep, number[]>;
  books: Books;
  ok: boolean;
  problems: string[];
}

/** Postgres publishes a backend's counters up to 10 s after its last transaction (PG 15: idle flush). */
const STATS_SETTLE_MS = 11_000;
const SAMPLE_MS = 500;
const IDLE_MS = 5_000;

export async function measureLayout(bench: Bench, kind: LayoutKind, flags: MeasureFlags, log: (line: string) => void): Promise<LayoutFigures> {
  const schema = `layout_${kind}`;
  const prefix = queuePrefixOf(bench, schema);
  const tenants = new Tenants(kind === 'split' ? 's' : 'o', flags.warmup + flags.alone + flags.tasks, `bench-${bench.runId}`);
  const mocks = await providerStandIns(bench.runId);
  const problems: string[] = [];
  try {
    const layout = await startLayout(kind, bench.forceTsx, layoutEnv(bench, schema, mocks, [tenants]), bench.admin);
    try {
      log(`${kind} (${layout.runner}): ${layout.processes.map((p) => `${p.name} (pid ${p.program.pid})`).join(', ')}; gateway ${layout.base}`);
      const deadline = () => performance.now() + flags.timeLimitMs;
      const done = (until: number) => waitDone({ db: bench.db.own, schema, redis: bench.probe, prefix, own: bench.own, deadline: until });

      // Warm: code compiled and optimised, pools and connections open.
      const warm = await postTasks(layout.base, tenants, bench.runId, flags.warmup, flags.concurrency, deadline());
      if (warm.refused.length || !(await done(deadline()))) throw new Error(`${kind}: the warm-up did not complete (${warm.refused[0] ?? 'time limit'})`);
      // One task alone, again and again: submit → report with nothing else running.
      const { tasks: aloneTasks, ms: aloneMs } = await submitToReport(layout.base, tenants, bench.runId, flags.alone);
      if (!(await done(deadline()))) throw new Error(`${kind}: the tasks run alone did not finish`);
      const aloneSteps = new Map<TimelineStep, number[]>(TIMELINE_STEPS.map((step) => [step, []]));
      for (const task of aloneTasks) {
        const steps = await timelineOf(task, { redis: bench.probe, prefix, db: bench.db.own, schema });
        for (const step of TIMELINE_STEPS) aloneSteps.get(step)!.push(steps[step]);
      }
      log(`${kind}: warmed up (${flags.warmup} tasks), ${flags.alone} alone: submit → report p50 ${percentile(aloneMs, 50).toFixed(0)} ms`);

      // The bare graph on the same Redis, just before the window, while this layout's processes wait idle.
      const bare = await runBare({ redisUrl: bench.redis.url, redis: bench.probe, prefix: `${prefix}-bare`, tasks: flags.bareTasks, warmup: Math.min(500, flags.bareTasks), concurrency: bench.concurrency });
      log(`${kind}: bare BullMQ graph ${bare.tasksPerS.toFixed(0)} tasks/s`);

      // Idle: what the processes and Redis spend with nothing to do — a cost per second, not per task.
      const idleCpu0 = layout.processes.map((p) => cpuSeconds(p.program.pid));
      const idleInfo0 = await redisInfo(bench.probe);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const idleCpu1 = layout.processes.map((p) => cpuSeconds(p.program.pid));
      const idleInfo1 = await redisInfo(bench.probe);
      const idleS = IDLE_MS / 1000;

      // Before the window.
      const scrapes0 = await Promise.all(layout.processes.map((p) => scrape(p.metricsUrl, p.authorization)));
      const db0 = await databaseCounters(bench.db);
      const wal0 = await walCounters(bench.db);
      const held = bench.noWalInspect ? undefined : await holdWal(bench.db);
      const lsn0 = await walInsertLsn(bench.db);
      const backends = new CpuLedger();
      backends.start(await productBackends(bench.db));
      const background = new CpuLedger();
      background.start((await backgroundProcesses(bench.db)).map((p) => p.pid));
      const info0 = await redisInfo(bench.probe);
      const own0 = new Map(bench.own);
      const sent0 = bench.db.own.sent;
      const cpu0 = layout.processes.map((p) => cpuSeconds(p.program.pid));
      const bench0 = process.cpuUsage();
      const loadBefore = loadavg()[0]!;
      const t0 = performance.now();

      // The window: N tasks, C at a time, until all they caused is done; the Postgres backends sampled meanwhile.
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await new Promise((r) => setTimeout(r, SAMPLE_MS));
          backends.sample(await productBackends(bench.db));
          background.sample((await backgroundProcesses(bench.db)).map((p) => p.pid));
        }
      })();
      let posted: Posted;
      let finished: boolean;
      try {
        posted = await postTasks(layout.base, tenants, bench.runId, flags.tasks, flags.concurrency, deadline());
        finished = await done(deadline());
      } finally {
        sampling = false;
        await sampler;
      }
      const windowS = (performance.now() - t0) / 1000;
      const cpu1 = layout.processes.map((p) => cpuSeconds(p.program.pid));
      const benchCpu = process.cpuUsage(bench0);
      backends.sample(await productBackends(bench.db));
      background.sample((await backgroundProcesses(bench.db)).map((p) => p.pid));
      const info1 = await redisInfo(bench.probe);
      const ownInWindow = new Map([...bench.own].map(([k, v]) => [k, v - (own0.get(k) ?? 0)]));
      const lsn1 = await walFlushedLsn(bench.db);
      const loadAfter = loadavg()[0]!;
      const rss = layout.processes.map((p) => ({ now: rssMiB(p.program.pid), peak: peakRssMiB(p.program.pid) }));
      const streams = new Map<string, number>();
      for (const q of QUEUE_NAMES) streams.set(q, await bench.probe.xlen(`${prefix}:${q}:events`));
      if (!finished) problems.push(`${kind}: the window's work was not done within --time-limit`);
      log(`${kind}: ${posted.ids.length} tasks in ${windowS.toFixed(1)} s; waiting ${STATS_SETTLE_MS / 1000} s for Postgres's counters to settle`);

      // After it: what Postgres publishes late, then the processes' counters.
      await new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
      const db1 = await databaseCounters(bench.db);
      const wal1 = await walCounters(bench.db);
      const sentInWindow = bench.db.own.sent - sent0;
      const scrapes1 = await Promise.all(layout.processes.map((p) => scrape(p.metricsUrl, p.authorization)));
      let wal: OurWal | undefined;
      let walNote = bench.noWalInspect;
      if (!walNote) {
        try {
          wal = await ourWal(bench.db, lsn0, lsn1);
        } catch (err) {
          walNote = `${(err as Error).message}${held && 'failed' in held ? ` (the WAL could not be held: ${held.failed})` : ''}`;
        }
      }
      if (held && 'release' in held) await held.release();
      if (walNote) problems.push(`${kind}: no WAL figures of our own: ${walNote}`);

      const n = posted.ids.length || 1;
      const perTask = (x: number) => x / n;
      const deltas: Samples[] = scrapes0.map((s, i) => delta(s, scrapes1[i]!));
      const statementsOf = (d: Samples, kind: string) => sumBy(d, STATEMENTS, 'kind').get(kind) ?? 0;
      const processes: ProcessFigures[] = layout.processes.map((p, i) => ({
        name: p.name,
        cpuMsPerTask: perTask((cpu1[i]! - cpu0[i]!) * 1000),
        idleMsPerS: ((idleCpu1[i]! - idleCpu0[i]!) * 1000) / idleS,
        statementsPerTask: perTask(statementsOf(deltas[i]!, 'query')),
        rssMiB: rss[i]!.now,
        peakRssMiB: rss[i]!.peak,
        errors: p.program.errors(),
      }));
      const jobs = new Map<string, number>();
      let jobAttemptsOther = 0;
      for (const d of deltas) {
        for (const [queue, count] of sumBy(d, JOBS, 'queue', { outcome: ['completed', 'failed'] })) jobs.set(queue, (jobs.get(queue) ?? 0) + perTask(count));
        jobAttemptsOther += [...sumBy(d, JOBS, '', { outcome: ['retry', 'waiting'] }).values()].reduce((s, x) => s + x, 0);
      }
      const calls = callsBetween(info0, info1, ownInWindow);
      const redisCalls = [...calls.values()].reduce((s, x) => s + x, 0);
      const pgCpu = backends.total();
      const redisCpuMs = perTask((info1.cpuSeconds - info0.cpuSeconds) * 1000);
      const postgresCpuMs = perTask(pgCpu.seconds * 1000);
      const processCpu = processes.reduce((s, p) => s + p.cpuMsPerTask, 0);
      const statements = (['query', 'begin', 'commit', 'rollback'] as const).map((k) => perTask(deltas.reduce((s, d) => s + statementsOf(d, k), 0)));
      const latencyRows = await bench.db.own.query<{ ms: number }>(
        `select extract(epoch from (ended_at - created_at)) * 1000 as ms from "${schema}".tasks where id = any($1::uuid[]) and ended_at is not null`,
        [posted.ids],
      );
      const latencies = latencyRows.map((r) => Number(r.ms));

      const books = await checkBooks(bench, schema, mocks);
      for (const p of processes) if (p.errors.count) problems.push(`${kind}: ${p.name} logged ${p.errors.count} error(s), e.g. ${p.errors.last[0]}`);
      for (const p of layout.processes) if (p.program.exited()) problems.push(`${kind}: ${p.name} exited during the run`);
      if (posted.refused.length) problems.push(`${kind}: ${posted.refused.length} POST(s) refused, e.g. ${posted.refused[0]}`);
      return {
        kind,
        runner: layout.runner,
        bare,
        tasks: posted.ids.length,
        windowS,
        tasksPerS: posted.ids.length / windowS,
        loadBefore,
        loadAfter,
        processes,
        redisCpuMs,
        redisIdle: {
          msPerS: ((idleInfo1.cpuSeconds - idleInfo0.cpuSeconds) * 1000) / idleS,
          callsPerS: [...callsBetween(idleInfo0, idleInfo1, new Map()).values()].reduce((a, b) => a + b, 0) / idleS,
        },
        postgresCpuMs,
        postgresBackends: pgCpu.processes,
        postgresBackgroundCpuMs: perTask(background.total().seconds * 1000),
        benchCpuMs: perTask(((benchCpu.user + benchCpu.system) / 1000)),
        productCpuMs: processCpu + redisCpuMs + postgresCpuMs,
        statements: { query: statements[0]!, begin: statements[1]!, commit: statements[2]!, rollback: statements[3]! },
        transactions: perTask(db1.xactCommit - db0.xactCommit - sentInWindow),
        rollbacks: perTask(db1.xactRollback - db0.xactRollback),
        rowsWritten: { inserted: perTask(db1.tupInserted - db0.tupInserted), updated: perTask(db1.tupUpdated - db0.tupUpdated), deleted: perTask(db1.tupDeleted - db0.tupDeleted) },
        wal: wal && { ...wal },
        walNote,
        clusterWal: { bytes: perTask(wal1.bytes - wal0.bytes), syncs: perTask(wal1.syncs - wal0.syncs), writes: perTask(wal1.writes - wal0.writes) },
        jobs,
        jobAttemptsOther: perTask(jobAttemptsOther),
        redisCalls: perTask(redisCalls),
        redisTop: [...calls].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([c, k]) => [c, perTask(k)] as [string, number]),
        eventStreams: streams,
        redisMemoryPerTask: perTask(info1.usedMemory - info0.usedMemory),
        latency: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
        postMs: { p50: percentile(posted.postMs, 50), p99: percentile(posted.postMs, 99) },
        retried503: posted.retried,
        refused: posted.refused,
        aloneMs,
        aloneSteps,
        books,
        ok: finished && booksOk(books) && posted.refused.length === 0,
        problems,
      };
    } finally {
      await layout.stop();
    }
  } finally {
    await mocks.close();
  }
}

