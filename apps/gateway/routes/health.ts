import { Hono } from 'hono';
import { sql } from 'kysely';
import { withTimeout } from '../../../shared/timeout.ts';
import type { GatewayDeps } from '../deps.ts';

/** GET /healthz (the process is alive) and GET /readyz (Redis and Postgres answer). */
export function healthRoutes(deps: GatewayDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [redis, postgres] = await Promise.allSettled([withTimeout(2_000, deps.redis.ping(), 'Redis'), withTimeout(2_000, sql`select 1`.execute(deps.database.db), 'Postgres')]);
      const checks = {
        redis: redis.status === 'fulfilled' ? 'ok' : `down: ${(redis.reason as Error).message}`,
        postgres: postgres.status === 'fulfilled' ? 'ok' : `down: ${(postgres.reason as Error).message}`,
      };
      const ready = redis.status === 'fulfilled' && postgres.status === 'fulfilled';
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
    });
}
