import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from '../../apps/start/redis.ts';
import { build } from '../../infra/build.ts';
import { redisAnswers } from './redis-probe.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    databaseUrl: string | undefined;
  }
}

/**
 * Finds the servers the suite runs against: Redis from REDIS_URL, else 127.0.0.1:6379 when it
 * answers, else a private redis-server; Postgres from DATABASE_URL (PGlite in-process otherwise).
 */
export default async function setup(project: TestProject) {
  let redisUrl = process.env.REDIS_URL;
  let stop: (() => void) | undefined;
  if (!redisUrl) {
    if (await redisAnswers('redis://127.0.0.1:6379')) redisUrl = 'redis://127.0.0.1:6379';
    else if (!spawnSync('redis-server', ['--version']).error) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'arp-test-redis-'));
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
      redisUrl = `redis://127.0.0.1:${port}`;
      for (let i = 0; i < 100 && !(await redisAnswers(redisUrl)); i++) await new Promise((r) => setTimeout(r, 100));
      stop = () => {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      };
    } else {
      throw new Error('the tests need Redis: set REDIS_URL, run one on 127.0.0.1:6379, or put redis-server on the PATH');
    }
  }
  project.provide('redisUrl', redisUrl);
  project.provide('databaseUrl', process.env.DATABASE_URL || undefined);
  project.provide('programsDir', await programsBuilt());
  return () => {
    stop?.();
    programsDone();
  };
}

const BUILT = Symbol.for('arp.test.programs');
type Shared = { [BUILT]?: { dir: Promise<string>; users: number } };

/**
 * The programs tests start as processes run compiled, as in production (test/support/programs.ts): built
 * from the current sources into a private folder beside a link to node_modules (for their packages) —
 * once per run, though each project of the run calls this setup (the promise is kept on globalThis).
 */
function programsBuilt(): Promise<string> {
  const shared = globalThis as Shared;
  shared[BUILT] ??= {
    users: 0,
    dir: (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'arp-test-programs-'));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      await build(dir);
      return dir;
    })(),
  };
  shared[BUILT].users += 1;
  return shared[BUILT].dir;
}

/** The last project done with the programs removes them. */
function programsDone(): void {
  const shared = globalThis as Shared;
  const built = shared[BUILT];
  if (!built || --built.users > 0) return;
  shared[BUILT] = undefined;
  void built.dir.then((dir) => rmSync(dir, { recursive: true, force: true }));
}
