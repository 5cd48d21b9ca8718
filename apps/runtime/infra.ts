import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config.ts';
import { migrate, openDatabase, repositories, type Db, type Repositories } from '../../shared/db/index.ts';

/** Opens the database named by the configuration (PGlite when no URL) and migrates it. */
export async function openBooks(config: Config, opts: { inMemory?: boolean; poolSize?: number } = {}): Promise<{ database: Db; repos: Repositories }> {
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    dataDir: config.DATA_DIR,
    inMemory: opts.inMemory,
    poolSize: opts.poolSize,
  });
  await migrate(database);
  return { database, repos: repositories(database) };
}

/**
 * The separate processes (gateway, worker, reconcile) share Redis and Postgres with each other, so
 * both must be real servers; PGlite serves one process only.
 */
export function requireSharedServices(config: Config, program: string): { redisUrl: string; databaseUrl: string } {
  const missing = [!config.REDIS_URL && 'REDIS_URL', !config.DATABASE_URL && 'DATABASE_URL'].filter(Boolean);
  if (missing.length) {
    throw new Error(
      `${program} shares its queues and books with the other processes, so it needs ${missing.join(' and ')} ` +
        '(embedded PGlite serves one process only). Set them, or run everything in one process with `npm start`.',
    );
  }
  return { redisUrl: config.REDIS_URL!, databaseUrl: config.DATABASE_URL! };
}

/** Closes what a process opened, each step on its own, so one failure does not keep the rest open. */
export async function closeAll(steps: Array<(() => Promise<unknown>) | undefined>): Promise<void> {
  for (const step of steps) {
    if (!step) continue;
    await step().catch(() => undefined);
  }
}

export async function quitRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
