/**
 * `npm run bench:startup`: what starting a program costs — the gateway, and a worker with every stage —
 * compiled (`node dist/…`, as the npm scripts, the image and the deployments run it) against through tsx
 * (`node --import tsx …`, as they ran before), and compiled with `--enable-source-maps`. For each start:
 * the CPU it used (user + system, /proc/<pid>/stat) and its peak RSS (VmHWM) at the moment it says it is
 * ready (`gateway listening`, `worker started`: connected to Redis and Postgres, schema migrated), and the
 * wall time to get there. Each variant starts `--runs` times (default 5), interleaved; the median and the
 * least (the start least disturbed by whatever else the machine runs) are printed.
 *
 * Builds dist/ first. Needs DATABASE_URL (REDIS_URL defaults to redis://127.0.0.1:6379); uses its own
 * schema and queue prefix and removes both.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { build } from '../infra/build.ts';
import { compiledPath } from '../infra/programs.ts';
import { deletePrefix, redisConnection } from '../queues/connection.ts';
import { dropSchema, openDatabase } from '../shared/db/index.ts';
import { cpuSeconds, peakRssMiB } from './sizing.ts';

const ROOT = new URL('..', import.meta.url).pathname;

const PROGRAMS = [
  { name: 'gateway', source: 'apps/gateway/main.ts', args: [] as string[], ready: /gateway listening/ },
  { name: 'worker (every stage)', source: 'apps/worker/main.ts', args: [], ready: /worker started/ },
];

const VARIANTS = [
  { name: 'tsx', node: (source: string) => ['--import', 'tsx', source] },
  { name: 'compiled', node: (source: string) => [compiledPath(source)] },
  { name: 'compiled, --enable-source-maps', node: (source: string) => ['--enable-source-maps', compiledPath(source)] },
];

interface Start {
  cpuS: number;
  rssMiB: number;
  wallMs: number;
}

/** Starts one program, samples it the moment it logs `ready`, stops it. */
function measure(nodeArgs: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Start> {
  const t0 = performance.now();
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  return new Promise<Start>((resolve, reject) => {
    let out = '';
    let sampled: Start | undefined;
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (sampled || !ready.test(out)) return;
      sampled = { cpuS: cpuSeconds(child.pid!), rssMiB: peakRssMiB(child.pid!), wallMs: performance.now() - t0 };
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => (sampled ? resolve(sampled) : reject(new Error(`${nodeArgs.join(' ')} exited (${code}) before it was ready: ${stderr}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A table row: each figure as its median over the starts, and (in brackets) the least. */
function row(program: string, runAs: string, starts: Start[]): string {
  const figure = (of: (x: Start) => number, digits: number, unit: string) => `${median(starts.map(of)).toFixed(digits)} (${Math.min(...starts.map(of)).toFixed(digits)}) ${unit}`;
  return `| ${program} | ${runAs} | ${figure((x) => x.cpuS, 2, 's')} | ${figure((x) => x.rssMiB, 0, 'MiB')} | ${figure((x) => x.wallMs, 0, 'ms')} |`;
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set (the programs connect to Postgres before they are ready)');
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const id = randomBytes(4).toString('hex');
  const schema = `bench_startup_${id}`;
  const prefix = `bench-startup-${id}`;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    QUEUE_PREFIX: prefix,
    PORT: '0',
    WORKER_HTTP_PORT: '0',
    SWEEP_INTERVAL_MS: '0',
    MARKETPLACE_URL: 'http://127.0.0.1:9/',
    TOKEN_ISSUER_URL: 'http://127.0.0.1:9/',
    VOICEID_URL: 'http://127.0.0.1:9/',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  };
  const { programs } = await build();
  console.log(`built ${programs.length} programs; ${runs} starts per variant (node ${process.version})\n`);
  try {
    // The first start migrates the schema: not counted.
    await measure(VARIANTS[1]!.node(PROGRAMS[0]!.source), env, PROGRAMS[0]!.ready);
    console.log('| program | run as | CPU at ready: median (least) | peak RSS at ready: median (least) | wall time to ready: median (least) |');
    console.log('| --- | --- | ---: | ---: | ---: |');
    // For scale: a node process that does nothing (on a busy machine every figure grows alike).
    const bare: Start[] = [];
    for (let i = 0; i < runs; i++) bare.push(await measure(['-e', 'console.log("ready"); setTimeout(() => {}, 10_000)'], env, /ready/));
    console.log(row('node, nothing loaded', '—', bare));
    for (const program of PROGRAMS) {
      const starts = new Map<string, Start[]>(VARIANTS.map((v) => [v.name, []]));
      for (let i = 0; i < runs; i++) for (const v of VARIANTS) starts.get(v.name)!.push(await measure([...v.node(program.source), ...program.args], env, program.ready));
      for (const v of VARIANTS) console.log(row(program.name, v.name, starts.get(v.name)!));
    }
  } finally {
    const database = await openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 1 });
    await dropSchema(database);
    await database.close();
    const redis = redisConnection(redisUrl, 'producer');
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

main().catch((err) => {
  console.error(`bench:startup: ${(err as Error).message}`);
  process.exit(1);
});
