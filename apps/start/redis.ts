import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';

/** A free loopback TCP port, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/**
 * Waits (up to 10 s) until a redis-server just started as `child` answers PING at `url`; throws, naming
 * `what`, when it exits first or does not answer in time.
 */
export async function untilRedisAnswers(url: string, child: ChildProcess, what: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        probe.disconnect();
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start (exit code ${child.exitCode})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    probe.disconnect();
  }
}

export const NO_REDIS_HELP =
  'no Redis: set REDIS_URL to a running Redis (e.g. redis://127.0.0.1:6379), or install one so `redis-server` is on the PATH ' +
  '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)';

/**
 * Starts a private redis-server on a free loopback port, its data (append-only file) under `dir`, so
 * queued work survives a restart of `npm start`. It is killed when this process exits.
 */
export async function startPrivateRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(NO_REDIS_HELP);
  const dataDir = resolve(dir);
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--save', '', '--protected-mode', 'yes', '--logfile', ''];
  // redis-server runs under a small shell in its own process group, so a signal to our group (Ctrl-C,
  // kill -TERM -pgid) does not take Redis away while our workers are still closing; the shell stops
  // Redis when its stdin closes — at our shutdown, or when this process dies in any way, even SIGKILL.
  const child: ChildProcess = spawn('sh', ['-c', 'redis-server "$@" & pid=$!; read _; kill $pid; wait $pid', 'sh', ...args], {
    detached: true,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', kill);
  const url = `redis://127.0.0.1:${port}`;
  await untilRedisAnswers(url, child, 'the private redis-server');
  return {
    url,
    stop: async () => {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1_500))]);
      if (child.exitCode === null) kill();
    },
  };
}
