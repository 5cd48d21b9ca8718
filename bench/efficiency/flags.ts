/** The flags of `npm run bench` (the efficiency bench and its soak). */
import { parseArgs } from 'node:util';
import type { LayoutKind } from './layouts.ts';

export const USAGE = `usage: npm run bench [-- --tasks N] [--warmup N] [--alone N] [--concurrency C] [--bare-tasks N] [--layouts split,one] [--tsx] [--time-limit S]
         both layouts (split processes; one process) measured in one run, beside the bare BullMQ graph: tasks/s, CPU per task by
         process, SQL statements / commits / WAL per task, jobs and Redis commands per task, latency, RSS; the issue-16 targets
         --tasks 300 measured per layout (1-5000), after --warmup 300 (1-2000); --alone 20 tasks run one at a time (submit → report);
         --concurrency 16 POSTs at a time; --bare-tasks 2000; --time-limit 300 s per phase; --tsx runs the sources even when built
       npm run bench -- --soak S [--rate R] [--sample S] [--layout split|one]   S seconds (10-7200) at R tasks/s (default 1):
         Redis memory, Postgres table and index sizes and each process's RSS sampled every --sample 10 s: flat or per task
       npm run bench -- --latency MS [--levels 1,4,8,16,32,2x16]   the sizing run of the detail stage (bench/sizing.ts)
       npm run bench -- --in-process [--tasks N …]   the pipeline in this one process, a repeated workload, shutdown under load
  BENCH_NODE_ARGS: extra node arguments for every product process the bench starts (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  needs DATABASE_URL (a real Postgres: the bench creates and drops its own database there); Redis: a private redis-server
  when one is on the PATH, else REDIS_URL (default redis://127.0.0.1:6379)
  exit 0: every check passed (tasks completed, books reconcile); 1: a check failed; 2: could not run`;

export class CannotRun extends Error {}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) throw new CannotRun(`--${name} must be a whole number from ${min} to ${max} (got "${raw}")\n${USAGE}`);
  return n;
}

function layoutList(raw: string): LayoutKind[] {
  const kinds = raw.split(',').map((s) => s.trim());
  for (const k of kinds) if (k !== 'split' && k !== 'one') throw new CannotRun(`--layouts: "${k}" is not split or one\n${USAGE}`);
  return [...new Set(kinds)] as LayoutKind[];
}

export function readFlags(argv: string[]) {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        tasks: { type: 'string' },
        warmup: { type: 'string' },
        alone: { type: 'string' },
        concurrency: { type: 'string' },
        'bare-tasks': { type: 'string' },
        layouts: { type: 'string' },
        layout: { type: 'string' },
        tsx: { type: 'boolean' },
        'time-limit': { type: 'string' },
        soak: { type: 'string' },
        rate: { type: 'string' },
        sample: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new CannotRun(`${(err as Error).message}\n${USAGE}`);
  }
  const logLevel = v['log-level'] ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug'].includes(logLevel)) throw new CannotRun(`--log-level: fatal, error, warn, info or debug\n${USAGE}`);
  return {
    help: v.help ?? false,
    tasks: int('tasks', v.tasks, 300, 1, 5000),
    // 300: each stage's process then runs its code a few hundred times and V8 has optimised it; after 60, the
    // window still paid for that (measured: split 23.7 → 21.9 times the bare graph's CPU with 600, no lower with 1,500).
    warmup: int('warmup', v.warmup, 300, 1, 2000),
    alone: int('alone', v.alone, 20, 1, 500),
    concurrency: int('concurrency', v.concurrency, 16, 1, 256),
    bareTasks: int('bare-tasks', v['bare-tasks'], 2000, 100, 100_000),
    layouts: layoutList(v.layouts ?? 'split,one'),
    soakLayout: layoutList(v.layout ?? 'split')[0]!,
    tsx: v.tsx ?? false,
    timeLimitMs: int('time-limit', v['time-limit'], 300, 10, 3600) * 1000,
    soakS: v.soak === undefined ? undefined : int('soak', v.soak, 300, 10, 7200),
    rate: int('rate', v.rate, 1, 1, 500),
    sampleS: int('sample', v.sample, 10, 1, 600),
    logLevel,
  };
}

export type Flags = ReturnType<typeof readFlags>;
