/**
 * The bench's Redis: a private `redis-server` on a free loopback port when one is on the PATH, so that
 * INFO's command counts, CPU and memory are the bench's alone; else the Redis of REDIS_URL, shared (the
 * figures then include whatever else uses it, and the output says so). Plus INFO read into numbers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AUTH_FAILURE_KEYS } from '../../apps/gateway/throttle.ts';
import { TENANT_SUBMISSION_KEYS } from '../../apps/gateway/tenant-rate.ts';
import { freePort, untilRedisAnswers } from '../../apps/start/redis.ts';
import { SEARCH_CACHE_KEYS } from '../../shared/memory/search-cache.ts';

export interface BenchRedis {
  url: string;
  /** True when the server is the bench's own. */
  private: boolean;
  /** The server's pid (INFO process_id), for its RSS; its CPU is INFO's used_cpu_*. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a private server: no persistence (as the shared development Redis runs: appendonly no, no RDB
 * saves), `noeviction` (BullMQ's requirement). Killed by its pid at `stop` or when this process exits.
 */
export async function startBenchRedis(fallbackUrl: string): Promise<BenchRedis> {
  if (spawnSync('redis-server', ['--version']).error) {
    const probe = new Redis(fallbackUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    await probe.connect();
    const pid = Number((await probe.info('server')).match(/process_id:(\d+)/)?.[1]);
    probe.disconnect();
    return { url: fallbackUrl, private: false, pid, stop: async () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'arp-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes', '--logfile', ''], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await untilRedisAnswers(url, child, "the bench's redis-server");
  } catch (err) {
    kill();
    throw err;
  }
  return {
    url,
    private: true,
    pid: child.pid!,
    stop: async () => {
      process.off('exit', kill);
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisInfo {
  /** Calls per command (INFO commandstats), commands run inside Lua scripts included. */
  calls: Map<string, number>;
  /** CPU seconds of the server (main thread and its children). */
  cpuSeconds: number;
  usedMemory: number;
  keys: number;
}

/** INFO, read into numbers. */
export async function redisInfo(redis: Redis): Promise<RedisInfo> {
  const text = await redis.info('everything');
  const num = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  const calls = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  const keys = [...text.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
  return {
    calls,
    cpuSeconds: num('used_cpu_sys') + num('used_cpu_user') + num('used_cpu_sys_children') + num('used_cpu_user_children'),
    usedMemory: num('used_memory'),
    keys,
  };
}

/** Calls per command between two INFOs, less what the bench itself sent (`own`) and INFO itself. */
export function callsBetween(before: RedisInfo, after: RedisInfo, own: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [cmd, n] of after.calls) {
    if (cmd === 'info') continue;
    const d = n - (before.calls.get(cmd) ?? 0) - (own.get(cmd) ?? 0);
    if (d > 0) out.set(cmd, d);
  }
  return out;
}

/** What a queue system's key is, by its name: the soak says where Redis's memory went. */
export type KeyKind = 'search cache' | 'jobs kept' | 'events streams' | 'queue indexes' | 'rate limits' | 'other';

/**
 * The kind of one of our keys (`<prefix>:…`): the search cache, a job (its hash and its own sub-keys), a
 * queue's events stream, a queue's own sets and lists, the gateway's rate windows (a tenant's submissions,
 * an address's failed sign-ins: each expires with its window).
 */
export function keyKindOf(key: string, prefix: string, queues: readonly string[]): KeyKind {
  if (!key.startsWith(`${prefix}:`)) return 'other';
  const rest = key.slice(prefix.length + 1);
  if (rest.startsWith(`${SEARCH_CACHE_KEYS}:`)) return 'search cache';
  if (rest.startsWith(`${TENANT_SUBMISSION_KEYS}:`) || rest.startsWith(`${AUTH_FAILURE_KEYS}:`)) return 'rate limits';
  const queue = queues.find((q) => rest.startsWith(`${q}:`));
  if (!queue) return 'other';
  const tail = rest.slice(queue.length + 1);
  if (tail === 'events') return 'events streams';
  // A job's key is its id (ours start with the queue's name: queues/options.ts jobId; BullMQ's own are numbers),
  // and its sub-keys (`:processed`, `:dependencies`, `:logs`…) follow the id after a colon.
  return tail.startsWith(`${queue}-`) || /^\d+(?::|$)/.test(tail) ? 'jobs kept' : 'queue indexes';
}

/** Redis memory (MEMORY USAGE, bytes) and keys by kind, over every key of `prefix`; batched, for a bench's few thousand keys. */
export async function memoryByKind(redis: Redis, prefix: string, queues: readonly string[]): Promise<Map<KeyKind, { bytes: number; keys: number }>> {
  const out = new Map<KeyKind, { bytes: number; keys: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (!keys.length) continue;
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.memory('USAGE', k);
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((k, i) => {
      const kind = keyKindOf(k, prefix, queues);
      const entry = out.get(kind) ?? { bytes: 0, keys: 0 };
      entry.bytes += Number(sizes[i]?.[1] ?? 0);
      entry.keys += 1;
      out.set(kind, entry);
    });
  } while (cursor !== '0');
  return out;
}
