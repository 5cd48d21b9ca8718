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
import { freePort, untilRedisAnswers } from '../../apps/start/redis.ts';

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
