import { Hono } from 'hono';
import { sql } from 'kysely';
import { withTimeout } from '../../../shared/timeout.ts';
import type { GatewayDeps } from '../deps.ts';

/**
 * GET /healthz (the process is alive) and GET /readyz (Redis and Postgres answer). Probes carry no
 * credentials, so /readyz says only which dependency is down (`ok` or `down`); why is in the log,
 * not in an answer anyone can read (host names, ports and driver messages map the inside).
 */
export function healthRoutes(deps: GatewayDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [redis, postgres] = await Promise.allSettled([withTimeout(2_000, deps.redis.ping(), 'Redis'), withTimeout(2_000, sql`select 1`.execute(deps.database.db), 'Postgres')]);
      const state = (name: string, result: PromiseSettledResult<unknown>) => {
        if (result.status === 'fulfilled') return 'ok';
        deps.log.warn({ dependency: name, err: (result.reason as Error).message }, 'readiness check: a dependency is down');
        return 'down';
      };
      const checks = { redis: state('redis', redis), postgres: state('postgres', postgres) };
      const ready = redis.status === 'fulfilled' && postgres.status === 'fulfilled';
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
    });
}
