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
  // The programs tests start as processes run compiled, as in production (test/support/programs.ts):
  // built once here from the current sources, beside a link to node_modules for their packages.
  const programs = mkdtempSync(join(tmpdir(), 'arp-test-programs-'));
  symlinkSync(join(ROOT, 'node_modules'), join(programs, 'node_modules'), 'dir');
  await build(programs);
  project.provide('programsDir', programs);
  return () => {
    stop?.();
    rmSync(programs, { recursive: true, force: true });
  };
}
