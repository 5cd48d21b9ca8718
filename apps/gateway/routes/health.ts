import { Hono } from 'hono';
import { sql } from 'kysely';
import type { GatewayDeps } from '../deps.ts';

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz (the process is alive) and GET /readyz (Redis and Postgres answer). */
export function healthRoutes(deps: GatewayDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [redis, postgres] = await Promise.allSettled([within(2_000, deps.redis.ping()), within(2_000, sql`select 1`.execute(deps.database.db))]);
      const checks = {
        redis: redis.status === 'fulfilled' ? 'ok' : `down: ${(redis.reason as Error).message}`,
        postgres: postgres.status === 'fulfilled' ? 'ok' : `down: ${(postgres.reason as Error).message}`,
      };
      const ready = redis.status === 'fulfilled' && postgres.status === 'fulfilled';
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
    });
}
