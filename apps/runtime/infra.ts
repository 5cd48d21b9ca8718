import type { RedisClient, RedisTarget } from '../../queues/connection.ts';
import { redisTarget, type Config } from '../../shared/config.ts';
import { isDependencyDown } from '../../shared/errors.ts';
import { migrate, openDatabase, repositories, type Db, type Repositories } from '../../shared/db/index.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { secretProblems, SECRET_USES, type SecretUse } from '../../shared/secrets.ts';

/** How long a starting process waits for Postgres to answer before giving up. */
const STARTUP_WAIT_MS = 60_000;

/**
 * Opens the database named by the configuration (PGlite when no URL) and migrates it. A process that
 * starts while Postgres is down (a restart, an outage) waits for it rather than dying.
 */
export async function openBooks(
  config: Config,
  opts: { inMemory?: boolean; poolSize?: number; onWait?: (err: Error) => void } = {},
): Promise<{ database: Db; repos: Repositories }> {
  const deadline = Date.now() + STARTUP_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    let database: Db | undefined;
    try {
      database = await openDatabase({
        databaseUrl: config.DATABASE_URL,
        schema: config.DATABASE_SCHEMA,
        dataDir: config.DATA_DIR,
        inMemory: opts.inMemory,
        poolSize: opts.poolSize,
      });
      await migrate(database);
      return { database, repos: repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS)) };
    } catch (err) {
      await database?.close().catch(() => undefined);
      if (!isDependencyDown(err) || Date.now() > deadline) throw err;
      opts.onWait?.(err as Error);
      await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)));
    }
  }
}

/**
 * The separate processes (gateway, worker, reconcile) share Redis and Postgres with each other, so
 * both must be real servers; PGlite serves one process only.
 */
export function requireSharedServices(
  config: Config,
  program: string,
  needs: Array<'redis' | 'database'> = ['redis', 'database'],
): { redis: RedisTarget; databaseUrl: string } {
  const redis = redisTarget(config);
  const missing = [needs.includes('redis') && !redis && 'REDIS_URL (or REDIS_CLUSTER_NODES)', needs.includes('database') && !config.DATABASE_URL && 'DATABASE_URL'].filter(Boolean);
  if (missing.length) {
    throw new Error(
      `${program} shares its queues and books with the other processes, so it needs ${missing.join(' and ')} ` +
        '(embedded PGlite serves one process only). Set them, or run everything in one process with `npm start`.',
    );
  }
  return { redis: redis!, databaseUrl: config.DATABASE_URL! };
}

/** Closes what a process opened, each step on its own, so one failure does not keep the rest open. */
export async function closeAll(steps: Array<(() => Promise<unknown>) | undefined>): Promise<void> {
  for (const step of steps) {
    if (!step) continue;
    await step().catch(() => undefined);
  }
}

export async function quitRedis(redis: RedisClient): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}

/**
 * What this process runs on that is only fit for development: the secrets it uses that production
 * would refuse (shared/secrets.ts, the same rules). Each program logs these as warnings at start;
 * with NODE_ENV=production loadConfig has refused them already.
 */
export function developmentDefaults(config: Config, env: NodeJS.ProcessEnv = process.env, uses: readonly SecretUse[] = SECRET_USES): string[] {
  return secretProblems(config, env, uses).map((p) =>
    p.problem === 'is unset' && p.unsetMeans ? `${p.variable} is unset: ${p.unsetMeans}` : `${p.variable} ${p.problem} (refused when NODE_ENV=production)`,
  );
}
