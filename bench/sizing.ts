/**
 * The sizing run of `npm run bench -- --latency 80` (issue 17): how the detail stage's throughput grows
 * with its concurrency, and with a second process, when every provider call takes `latency` ms — against
 * the ideal (concurrency ÷ the time of one job) — and what a worker process and the gateway cost (CPU, peak
 * RSS). The gateway and the detail workers run as real child processes (`node --import tsx …`, as in a
 * container), so their CPU and memory are those of a deployed process; search, authorize, report and the
 * rest run in the bench's own process.
 *
 * Each level first fills the detail queue (tasks are posted with no detail worker running, and wait until
 * every task's detail jobs are queued), then starts the detail process(es) and times the queue draining
 * from the first job taken to the last one done. The child's start-up (loading the code) is not counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Queue } from 'bullmq';
import type { Db } from '../shared/db/index.ts';
import { cpuSeconds, peakRssMiB } from './efficiency/proc.ts';

export interface SizingLevel {
  /** Detail worker processes, and DETAIL_CONCURRENCY in each. */
  processes: number;
  concurrency: number;
}

export interface SizingResult extends SizingLevel {
  jobs: number;
  seconds: number;
  /** Detail jobs done per second, over all processes. */
  rate: number;
  /** CPU of the detail processes while they drained the queue, in cores (summed over processes). */
  cores: number;
  /** Peak RSS of the largest detail process, MiB. */
  peakRssMiB: number;
  /** CPU time per detail job, ms. */
  cpuMsPerJob: number;
  /** CPU of the bench's own process meanwhile (the provider stand-ins, the other stages), in cores. */
  benchCores: number;
}

export interface SizingInput {
  /** Child processes' environment: REDIS_URL, DATABASE_URL, DATABASE_SCHEMA, QUEUE_PREFIX, provider URLs, keys. */
  env: NodeJS.ProcessEnv;
  levels: SizingLevel[];
  /** Posts one task (its number) to the gateway at `base`; resolves with its id. */
  post: (base: string, i: number) => Promise<string>;
  detail: Queue;
  database: Db;
  /** Detail jobs each task makes (maxCompanies, budget ample). */
  jobsPerTask: number;
  log: (line: string) => void;
}

const CHILD_START_MS = 30_000;
const ROOT = new URL('..', import.meta.url).pathname;

/** A program of the product started as its container runs it, resolved once it logs `ready` (a JSON line whose msg matches). */
export async function startProgram(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; line: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start in ${CHILD_START_MS / 1000} s: ${stderr}`));
    }, CHILD_START_MS);
    let buffered = '';
    child.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (ready.test(text)) {
          clearTimeout(timer);
          resolve(text);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before it was ready: ${stderr}`));
    });
  });
  child.stdout!.resume();
  return {
    child,
    line,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function until(what: string, limitMs: number, check: () => Promise<boolean>, everyMs = 50): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`sizing: ${what} not reached in ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs every level; the gateway at `gatewayBase` takes the tasks. */
export async function runDetailSizing(input: SizingInput, gatewayBase: string, firstTask: number): Promise<{ results: SizingResult[]; tasksPosted: number }> {
  const results: SizingResult[] = [];
  let next = firstTask;
  for (const level of input.levels) {
    // Enough jobs that the drain takes a few seconds even at the highest rate (~15 per slot), at least 20.
    const jobs = Math.max(20, level.concurrency * level.processes * 15);
    const tasks = Math.ceil(jobs / input.jobsPerTask);
    const ids = await Promise.all(Array.from({ length: tasks }, () => input.post(gatewayBase, next++)));
    // Every task's detail jobs queued (its stage is detail) before any detail worker runs.
    await until('detail backlog', 120_000, async () => {
      const row = await input.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll<string>().as('n')).where('id', 'in', ids).where('stage', '=', 'detail').executeTakeFirstOrThrow();
      return Number(row.n) === ids.length;
    });
    const queued = await input.detail.getWaitingCount();
    const started = await Promise.allSettled(
      Array.from({ length: level.processes }, () =>
        startProgram(['apps/worker/main.ts', 'detail', '--no-sweeper'], { ...input.env, DETAIL_CONCURRENCY: String(level.concurrency) }, /"msg":"worker started"/),
      ),
    );
    const children = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      // One that could not start: the others stop too (finally), and the run says why.
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      // Timed from the first job taken to the last one done.
      await until('first detail job taken', 60_000, async () => (await input.detail.getWaitingCount()) < queued, 5);
      const t0 = performance.now();
      const own0 = process.cpuUsage();
      const cpu0 = children.map((c) => cpuSeconds(c.child.pid!));
      await until('detail queue drained', 300_000, async () => {
        const counts = await input.detail.getJobCounts('wait', 'active', 'delayed', 'prioritized');
        return counts.wait + counts.active + counts.delayed + counts.prioritized === 0;
      }, 20);
      const seconds = (performance.now() - t0) / 1000;
      const own = process.cpuUsage(own0);
      const cpu = children.reduce((s, c, i) => s + cpuSeconds(c.child.pid!) - cpu0[i]!, 0);
      const result: SizingResult = {
        ...level,
        jobs: queued,
        seconds,
        rate: queued / seconds,
        cores: cpu / seconds,
        peakRssMiB: Math.max(...children.map((c) => peakRssMiB(c.child.pid!))),
        cpuMsPerJob: (cpu * 1000) / queued,
        benchCores: (own.user + own.system) / 1e6 / seconds,
      };
      results.push(result);
      input.log(`  detail × ${level.processes} process(es) at concurrency ${level.concurrency}: ${queued} jobs in ${seconds.toFixed(2)} s = ${result.rate.toFixed(1)} jobs/s, ${result.cores.toFixed(2)} cores (bench process ${result.benchCores.toFixed(2)}), load average ${loadavg()[0]!.toFixed(1)}, peak RSS ${result.peakRssMiB.toFixed(0)} MiB`);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
    }
    // The rest of those tasks (report, dashboard) ends before the next level, so it does not share its CPU.
    await until('tasks of the level ended', 120_000, async () => {
      const row = await input.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll<string>().as('n')).where('id', 'in', ids).where('status', 'in', ['queued', 'running']).executeTakeFirstOrThrow();
      return Number(row.n) === 0;
    }, 100);
  }
  return { results, tasksPosted: next - firstTask };
}

export { cpuSeconds, peakRssMiB };
