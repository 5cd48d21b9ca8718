/**
 * `npm run bench:events [-- --streams 500 --tasks 100 --events 20]`: 500 task-event streams open on one
 * gateway process (GET /v1/tasks/:id/events, Server-Sent Events), against the real Redis and Postgres.
 * It starts a gateway process of its own (`apps/gateway/main.ts`, so its memory and CPU are its own),
 * opens the streams over HTTP, and measures the gateway's resident memory and CPU: idle with every stream
 * open across a heartbeat, then while events are written to the tasks (each committed event woken over
 * Redis pub/sub, read once per task from the table and sent to every stream of it), then as every task
 * ends and every stream closes. Every stream must receive every event of its task, in order, once.
 * It uses its own queue prefix and schema, and removes both at the end.
 *
 * Exit 0: every stream got its whole story; 1: one did not; 2: it could not run (flags, Redis or Postgres).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { freePort } from '../apps/start/redis.ts';
import { deletePrefix, redisConnection } from '../queues/connection.ts';
import { keyringFrom } from '../shared/crypto/keyring.ts';
import { dropSchema, migrate, openDatabase, repositories, type Db } from '../shared/db/index.ts';
import { publishEventWakeups } from '../shared/events/wakeups.ts';

const USAGE = `usage: npm run bench:events [-- --streams N (1-5000, default 500)] [--tasks T (1-N, default 100)] [--events E per task (1-200, default 20)]
  needs DATABASE_URL (a real Postgres); REDIS_URL defaults to redis://127.0.0.1:6379
  exit 0: every stream got its whole story; 1: one did not; 2: could not run`;
const API_KEY = 'bench-events-key';
const ROOT = new URL('../', import.meta.url).pathname;
const HEARTBEAT_MS = 5_000;

class CannotRun extends Error {}

function flags() {
  let v;
  try {
    v = parseArgs({ options: { streams: { type: 'string' }, tasks: { type: 'string' }, events: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    throw new CannotRun(`${(err as Error).message}\n${USAGE}`);
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new CannotRun(`--${name} must be a whole number from ${min} to ${max}\n${USAGE}`);
    return Number(raw);
  };
  const streams = int('streams', v.streams, 500, 1, 5_000);
  return { help: v.help ?? false, streams, tasks: int('tasks', v.tasks, Math.min(100, streams), 1, streams), events: int('events', v.events, 20, 1, 200) };
}

/** The gateway process's resident memory (KiB) and CPU time so far (ms), from /proc. */
function usage(pid: number): { rssMiB: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, in clock ticks (100 Hz here)
  return { rssMiB: rssKiB / 1024, cpuMs: ticks * 10 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function main(): Promise<number> {
  const f = flags();
  if (f.help) {
    console.log(USAGE);
    return 0;
  }
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!databaseUrl) throw new CannotRun(`DATABASE_URL is not set\n${USAGE}`);
  const id = randomBytes(4).toString('hex');
  const schema = `bench_events_${id}`;
  const prefix = `bench-events-${id}`;
  let database: Db | undefined;
  const redis = redisConnection(redisUrl, 'producer');
  const port = await freePort();
  const gateway = spawn(process.execPath, ['--import', 'tsx', 'apps/gateway/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: String(port), REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, QUEUE_PREFIX: prefix, API_KEYS: `bench:${API_KEY}`, LOG_LEVEL: 'warn', EVENTS_HEARTBEAT_MS: String(HEARTBEAT_MS) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const agent = new Agent({ connections: f.streams + 50, pipelining: 0, headersTimeout: 60_000, bodyTimeout: 0 });
  try {
    database = await openDatabase({ databaseUrl, schema, dataDir: '/tmp', poolSize: 10 });
    await migrate(database);
    const repos = repositories(database, keyringFrom(undefined));
    publishEventWakeups(repos, redis, prefix);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false))) {
      if (Date.now() > deadline || gateway.exitCode !== null) throw new CannotRun('the gateway process did not start');
      await sleep(200);
    }

    // The tasks, running (no workers: this bench writes their events itself).
    const taskIds: string[] = [];
    for (let i = 0; i < f.tasks; i++) {
      const taskId = randomUUID();
      await repos.tasks.create({ id: taskId, tenant: 'bench', idempotency_key: null, request_hash: null, theme: `bench ${i}`, voice_id: 'v', currency: 'CNY', max_companies: 5, status: 'queued', stage: null, budget_limit: 5_000, token_id: null, error_code: null, error_message: null, ended_at: null });
      await repos.tasks.enterStage(taskId, 'detail');
      taskIds.push(taskId);
    }
    const before = usage(gateway.pid!);

    // The streams, spread over the tasks, each reading from the start.
    const written = new Map<string, number>(); // `${task}:${seq}` → when it was written
    const latencies: number[] = [];
    const streams = Array.from({ length: f.streams }, (_, i) => ({ taskId: taskIds[i % taskIds.length]!, seqs: [] as number[], heartbeats: 0, closed: false }));
    const opening = performance.now();
    const reading = streams.map(async (s) => {
      const res = await request(`${base}/v1/tasks/${s.taskId}/events`, { dispatcher: agent, headers: { authorization: `Bearer ${API_KEY}`, accept: 'text/event-stream' } });
      if (res.statusCode !== 200) throw new Error(`stream answered ${res.statusCode}`);
      const parser = createParser({
        onEvent: (m) => {
          const seq = Number(m.id);
          s.seqs.push(seq);
          const at = written.get(`${s.taskId}:${seq}`);
          if (at !== undefined) latencies.push(performance.now() - at);
        },
        onComment: () => s.heartbeats++,
      });
      for await (const chunk of res.body) parser.feed(chunk.toString());
      s.closed = true;
    });
    while (streams.some((s) => s.seqs.length < 2)) await sleep(50);
    const openMs = performance.now() - opening;
    const open = usage(gateway.pid!);

    // Idle, every stream open, across a heartbeat.
    await sleep(HEARTBEAT_MS + 1_000);
    const idle = usage(gateway.pid!);
    const idleWindowMs = HEARTBEAT_MS + 1_000;

    // Load: every task gets `events` events, one task after another, 200 a second in all.
    const loadStart = performance.now();
    const total = f.tasks * f.events;
    for (let n = 0; n < total; n++) {
      const taskId = taskIds[n % taskIds.length]!;
      const t = performance.now();
      const seq = await repos.events.add(taskId, 'voice_checked', { verified: true, score: n });
      written.set(`${taskId}:${seq}`, t);
      const due = loadStart + ((n + 1) * 1_000) / 200;
      if (due > performance.now()) await sleep(due - performance.now());
    }
    const perTask = 2 + f.events;
    const waitAll = Date.now() + 30_000;
    while (streams.some((s) => s.seqs.length < perTask) && Date.now() < waitAll) await sleep(50);
    const loadMs = performance.now() - loadStart;
    const loaded = usage(gateway.pid!);

    // The end: every task ends, every stream gets `ended` and closes.
    const ending = performance.now();
    for (const taskId of taskIds) {
      const t = performance.now();
      await repos.tasks.end(taskId, 'completed');
      written.set(`${taskId}:${perTask + 1}`, t);
    }
    await Promise.race([Promise.all(reading), sleep(30_000)]);
    const closeMs = performance.now() - ending;
    const after = usage(gateway.pid!);

    const whole = streams.filter((s) => s.closed && s.seqs.length === perTask + 1 && s.seqs.every((q, i) => q === i + 1));
    latencies.sort((a, b) => a - b);
    const heartbeats = streams.reduce((n, s) => n + s.heartbeats, 0);
    const result = {
      streams: f.streams,
      tasks: f.tasks,
      eventsWritten: total + f.tasks,
      eventsDelivered: streams.reduce((n, s) => n + s.seqs.length, 0),
      wholeStories: whole.length,
      openAllMs: Math.round(openMs),
      rssMiB: { gatewayBefore: +before.rssMiB.toFixed(1), with500Open: +open.rssMiB.toFixed(1), afterLoad: +loaded.rssMiB.toFixed(1), afterClose: +after.rssMiB.toFixed(1) },
      perStreamKiB: +(((open.rssMiB - before.rssMiB) * 1024) / f.streams).toFixed(1),
      cpu: {
        openingMs: open.cpuMs - before.cpuMs,
        idlePercent: +(((idle.cpuMs - open.cpuMs) / idleWindowMs) * 100).toFixed(2),
        loadPercent: +(((loaded.cpuMs - idle.cpuMs) / loadMs) * 100).toFixed(1),
        loadMsPerEventDelivered: +((loaded.cpuMs - idle.cpuMs) / Math.max(1, total * (f.streams / f.tasks))).toFixed(3),
      },
      heartbeatsPerStream: +(heartbeats / f.streams).toFixed(1),
      latencyMs: { p50: +pct(latencies, 50).toFixed(1), p95: +pct(latencies, 95).toFixed(1), p99: +pct(latencies, 99).toFixed(1), max: +pct(latencies, 100).toFixed(1) },
      closeAllMs: Math.round(closeMs),
    };
    console.log(`bench:events — ${f.streams} streams on ${f.tasks} tasks, one gateway process`);
    console.log(`  gateway RSS: ${result.rssMiB.gatewayBefore} MiB before, ${result.rssMiB.with500Open} MiB with the streams open (~${result.perStreamKiB} KiB each), ${result.rssMiB.afterLoad} MiB after the load, ${result.rssMiB.afterClose} MiB after all closed`);
    console.log(`  gateway CPU: opening ${result.cpu.openingMs} ms; idle ${result.cpu.idlePercent} % of a core (heartbeats: ${result.heartbeatsPerStream} per stream); under load ${result.cpu.loadPercent} % of a core (${total} events written at 200/s, ${result.eventsDelivered} delivered)`);
    console.log(`  delivery latency (commit → client): p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`);
    console.log(`  ${result.wholeStories} of ${f.streams} streams got their whole story, in order, once; all ${f.streams} closed ${result.closeAllMs} ms after the tasks ended`);
    console.log(JSON.stringify(result));
    return result.wholeStories === f.streams ? 0 : 1;
  } finally {
    await agent.close().catch(() => undefined);
    gateway.kill('SIGTERM');
    await new Promise((r) => (gateway.exitCode !== null ? r(null) : gateway.once('exit', r)));
    await deletePrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    if (database) {
      await dropSchema(database).catch(() => undefined);
      await database.close();
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof CannotRun ? err.message : err);
    process.exit(2);
  },
);
