/**
 * `npm run bench`: the efficiency bench of issue 16. Both layouts of the product (split processes; one
 * process) run real tasks against the provider stand-ins answering at once, beside the bare BullMQ graph
 * on the same Redis, and every cost is read per task from outside the processes. `--soak S` runs one
 * layout at a steady rate instead and watches what grows. Everything it starts (processes, Redis server,
 * database, files) it stops and removes, by pid and by name, at the end or on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { loadConfig } from '../../shared/config.ts';
import { withTimeout } from '../../shared/timeout.ts';
import { scratchDir, type Bench } from './bench.ts';
import { CannotRun, readFlags, USAGE } from './flags.ts';
import { LAYOUT_TITLE } from './layouts.ts';
import { measureLayout, type LayoutFigures } from './measure.ts';
import { ROOT } from './programs.ts';
import { createBenchDatabase, enableWalInspect } from './postgres.ts';
import { startBenchRedis } from './redis.ts';
import { formatReport } from './report.ts';
import { soak } from './soak.ts';

export { CannotRun };

/** The commit measured (and whether the work tree differs from it), when this is a git checkout. */
function codeVersion(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'this code (not a git checkout)';
  return `commit ${head.stdout.trim()}${git('status', '--porcelain', '--untracked-files=no').stdout.trim() ? ' with uncommitted changes' : ''}`;
}

export async function runEfficiencyBench(argv: string[]): Promise<number> {
  const flags = readFlags(argv);
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new CannotRun(`the bench needs DATABASE_URL: a real Postgres such as postgres://postgres@127.0.0.1:5432/test (it creates and drops a database of its own there)\n${USAGE}`);
  const runId = randomBytes(4).toString('hex');
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const cleanup: Array<() => Promise<unknown>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const step of cleanup.reverse()) await withTimeout(20_000, step(), 'cleanup').catch((err) => log(`cleanup: ${(err as Error).message}`));
    })());
  const onSigint = () => {
    log('interrupted: cleaning up');
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    const scratch = scratchDir();
    cleanup.push(scratch.remove);
    const redis = await startBenchRedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379').catch((err) => {
      throw new CannotRun(`Redis: ${(err as Error).message}`);
    });
    cleanup.push(() => redis.stop());
    const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    cleanup.push(async () => probe.disconnect());
    const db = await createBenchDatabase(databaseUrl, runId).catch((err) => {
      throw new CannotRun(`Postgres at DATABASE_URL: ${(err as Error).message}`);
    });
    cleanup.push(() => db.drop());
    const defaults = loadConfig({});
    const bench: Bench = {
      runId,
      forceTsx: flags.tsx,
      redis,
      probe,
      own: new Map(),
      db,
      noWalInspect: await enableWalInspect(db),
      dir: scratch.dir,
      admin: { user: 'bench', password: randomBytes(12).toString('hex') },
      concurrency: { worker: defaults.WORKER_CONCURRENCY, detail: defaults.DETAIL_CONCURRENCY },
      logLevel: flags.logLevel,
    };
    const header = [
      `efficiency bench ${runId} of ${codeVersion()} on ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start`,
      `  programs: started as their containers start them (each layout says whether from the build or the sources); WORKER_CONCURRENCY ${bench.concurrency.worker}, DETAIL_CONCURRENCY ${bench.concurrency.detail}, LOG_LEVEL ${bench.logLevel}, sweeper off`,
      `  Redis: ${redis.private ? `a private redis-server at ${redis.url} (no persistence): its counts, CPU and memory are the bench's alone` : `${redis.url}, SHARED: its command counts, CPU and memory include every other client's`}`,
      `  Postgres: database ${db.name} of its own (dropped at the end); pg_stat_wal is the whole cluster's; ${bench.noWalInspect ? `pg_walinspect unavailable (${bench.noWalInspect}): no WAL figures of our own` : "our WAL records picked out with pg_walinspect"}`,
      `  providers: the stand-ins in the bench's process, answering at once; each task buys 3 records (its own tenant); report writer offline`,
    ];
    log(header.join('\n'));

    if (flags.soakS !== undefined) {
      const result = await soak(bench, flags.soakLayout, { soakS: flags.soakS, rate: flags.rate, sampleS: flags.sampleS, warmup: flags.warmup, concurrency: flags.concurrency, timeLimitMs: flags.timeLimitMs }, log);
      process.stdout.write(`${[...header, ...result.lines].join('\n')}\n`);
      return result.ok ? 0 : 1;
    }

    const figures: LayoutFigures[] = [];
    for (const kind of flags.layouts) {
      log(`${LAYOUT_TITLE[kind]}: ${flags.warmup} tasks to warm up, ${flags.alone} alone, then ${flags.tasks} measured, ${flags.concurrency} POSTs at a time`);
      figures.push(await measureLayout(bench, kind, flags, log));
    }
    const problems = figures.flatMap((l) => l.problems);
    const ok = figures.every((l) => l.ok);
    process.stdout.write(`${[...header, '', ...formatReport(figures, cpus().length), '', `checks: ${ok ? 'ok' : 'FAILED'} (every task completed, nothing reserved, spent ≤ budget, ledger = issuer${problems.length ? `; ${problems.join('; ')}` : ''})`].join('\n')}\n`);
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await cleanUp();
  }
}
