/**
 * Runs the bare BullMQ graph (bare-graph.ts) in a child process on the bench's Redis and measures it as
 * the product is measured: tasks/s, CPU per task (its process and Redis), Redis commands per task.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { cpuSeconds, peakRssMiB } from './proc.ts';
import { ROOT } from './programs.ts';
import { callsBetween, redisInfo } from './redis.ts';

export interface BareFigures {
  tasks: number;
  jobs: number;
  seconds: number;
  tasksPerS: number;
  /** CPU ms per task: the bare process, Redis. */
  cpuMs: { process: number; redis: number };
  redisCalls: number;
  peakRssMiB: number;
}

export async function runBare(input: { redisUrl: string; redis: Redis; prefix: string; tasks: number; warmup: number; concurrency: { worker: number; detail: number } }): Promise<BareFigures> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/efficiency/bare-graph.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      REDIS_URL: input.redisUrl,
      BARE_PREFIX: input.prefix,
      BARE_TASKS: String(input.tasks),
      BARE_WARMUP: String(input.warmup),
      WORKER_CONCURRENCY: String(input.concurrency.worker),
      DETAIL_CONCURRENCY: String(input.concurrency.detail),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (key: string, limitMs: number): Promise<Record<string, number>> => {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the bare graph gave no "${key}" in ${limitMs / 1000} s`)), limitMs).unref());
    for (;;) {
      const line = await Promise.race([lines.next(), timer, exited.then((code) => Promise.reject(new Error(`the bare graph exited (${code})`)))]);
      if (line.done) throw new Error('the bare graph closed its output');
      try {
        const o = JSON.parse(line.value) as Record<string, Record<string, number>>;
        if (o[key]) return o[key]!;
      } catch {
        /* not ours */
      }
    }
  };
  try {
    await next('warm', 120_000);
    const cpu0 = cpuSeconds(child.pid!);
    const info0 = await redisInfo(input.redis);
    child.stdin!.write('go\n');
    const done = await next('done', 300_000);
    const cpu1 = cpuSeconds(child.pid!);
    const info1 = await redisInfo(input.redis);
    const rss = peakRssMiB(child.pid!);
    child.stdin!.write('stop\n');
    child.stdin!.end();
    const calls = [...callsBetween(info0, info1, new Map()).values()].reduce((s, n) => s + n, 0);
    return {
      tasks: done.tasks!,
      jobs: done.jobs!,
      seconds: done.seconds!,
      tasksPerS: done.tasks! / done.seconds!,
      cpuMs: { process: ((cpu1 - cpu0) * 1000) / done.tasks!, redis: ((info1.cpuSeconds - info0.cpuSeconds) * 1000) / done.tasks! },
      redisCalls: calls / done.tasks!,
      peakRssMiB: rss,
    };
  } finally {
    const timer = setTimeout(kill, 10_000);
    child.stdin!.end();
    await exited;
    clearTimeout(timer);
    process.off('exit', kill);
  }
}
