import { Hono } from 'hono';
import type { RedisClient } from '../../queues/connection.ts';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import type { Db } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';
import { pipelineRegistry } from '../../shared/telemetry/metrics.ts';
import { collectProcessMetrics } from '../../shared/telemetry/process-metrics.ts';
import { withTimeout } from '../../shared/timeout.ts';
import { serveApp } from './serve.ts';

export interface WorkerHttpDeps {
  /** The connections the workers use: each must answer for the process to be ready. */
  redis: RedisClient[];
  database: Db;
  log: Logger;
  /** False once the process is stopping: it is still alive, but no longer ready to take work. */
  accepting: () => boolean;
}

/**
 * A worker process's own HTTP port (WORKER_HTTP_PORT): for probes and for Prometheus.
 * - `GET /healthz` — 200 while the process runs (liveness);
 * - `GET /readyz` — 200 when Redis and Postgres answer and it is not stopping, else 503 with which one
 *   is `down` (why is in the log, as on the gateway);
 * - `GET /metrics` — the process's metrics (its stage jobs, provider calls, money moved, tasks ended,
 *   and Node's own), Prometheus text. No login: counts and sums, no secret and no id; bind it to a
 *   private interface (WORKER_HTTP_HOST, default 127.0.0.1) that only the probes and the scraper reach.
 */
export function workerHttpApp(deps: WorkerHttpDeps): Hono {
  const own = new Registry();
  collectProcessMetrics(own);
  const registry = Registry.merge([own, pipelineRegistry]);
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' as const }))
    .get('/readyz', async (c) => {
      const [redis, postgres] = await Promise.allSettled([
        Promise.all(deps.redis.map((r) => withTimeout(2_000, r.ping(), 'Redis'))),
        withTimeout(2_000, sql`select 1`.execute(deps.database.db), 'Postgres'),
      ]);
      const state = (name: string, result: PromiseSettledResult<unknown>) => {
        if (result.status === 'fulfilled') return 'ok' as const;
        deps.log.warn({ dependency: name, err: (result.reason as Error).message }, 'readiness check: a dependency is down');
        return 'down' as const;
      };
      const checks = { redis: state('redis', redis), postgres: state('postgres', postgres) };
      const ready = checks.redis === 'ok' && checks.postgres === 'ok' && deps.accepting();
      return c.json({ status: ready ? ('ready' as const) : ('not_ready' as const), checks }, ready ? 200 : 503);
    })
    .get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }))
    .notFound((c) => c.json({ type: 'about:blank', title: 'Not Found', status: 404, detail: `no route for ${c.req.method} ${c.req.path}`, code: 'not_found' }, 404, { 'content-type': 'application/problem+json' }));
}

/** Serves workerHttpApp on WORKER_HTTP_PORT when it is set; undefined when it is not (the default). */
export async function serveWorkerHttp(port: number | undefined, host: string, deps: WorkerHttpDeps) {
  if (port === undefined) return undefined;
  return serveApp(workerHttpApp(deps), port, host);
}
