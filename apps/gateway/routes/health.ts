import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'kysely';
import { withTimeout } from '../../../shared/timeout.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';

const Check = z.enum(['ok', 'down']);

/** What /readyz says: only whether each dependency answers, never why not (that is in the log). */
export const Readiness = z
  .strictObject({ status: z.enum(['ready', 'not_ready']), checks: z.strictObject({ redis: Check, postgres: Check }) })
  .openapi('Readiness');

/** The contract of GET /healthz. */
export const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'healthz',
  tags: ['health'],
  summary: 'The process is alive',
  security: [],
  responses: { 200: { description: 'Alive.', content: { 'application/json': { schema: z.strictObject({ status: z.literal('ok') }).openapi('Alive') } } } },
});

/** The contract of GET /readyz. */
export const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'readyz',
  tags: ['health'],
  summary: 'Redis and Postgres answer',
  security: [],
  responses: {
    200: { description: 'Ready: both answer.', content: { 'application/json': { schema: Readiness } } },
    503: { description: 'Not ready: `checks` says which is `down`.', content: { 'application/json': { schema: Readiness } } },
  },
});

/**
 * GET /healthz (the process is alive) and GET /readyz (Redis and Postgres answer). Probes carry no
 * credentials, so /readyz says only which dependency is down (`ok` or `down`); why is in the log,
 * not in an answer anyone can read (host names, ports and driver messages map the inside).
 */
export function healthRoutes(deps: GatewayDeps) {
  return contractRoutes()
    .openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(readyz, async (c) => {
      const [redis, postgres] = await Promise.allSettled([withTimeout(2_000, deps.redis.ping(), 'Redis'), withTimeout(2_000, sql`select 1`.execute(deps.database.db), 'Postgres')]);
      const state = (name: string, result: PromiseSettledResult<unknown>) => {
        if (result.status === 'fulfilled') return 'ok' as const;
        deps.log.warn({ dependency: name, err: (result.reason as Error).message }, 'readiness check: a dependency is down');
        return 'down' as const;
      };
      const checks = { redis: state('redis', redis), postgres: state('postgres', postgres) };
      const ready = redis.status === 'fulfilled' && postgres.status === 'fulfilled';
      return ready ? c.json({ status: 'ready' as const, checks }, 200) : c.json({ status: 'not_ready' as const, checks }, 503);
    });
}
