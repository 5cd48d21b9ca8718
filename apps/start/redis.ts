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
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--save', '', '--protected-mode', 'yes', '--logfile', ''],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the private redis-server did not start (exit code ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    stop: async () => {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
