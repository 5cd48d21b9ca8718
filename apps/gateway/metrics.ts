import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { pipelineRegistry } from '../../shared/telemetry/metrics.ts';
import { collectProcessMetrics } from '../../shared/telemetry/process-metrics.ts';
import type { GatewayDeps } from './deps.ts';

const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

/**
 * Prometheus metrics of one gateway: HTTP traffic as it happens, and on each scrape the queues'
 * job counts (from Redis) and the tasks and money in the books (from Postgres). Its own registry, so
 * several apps in one process (tests) never collide.
 */
export function createMetrics(deps: GatewayDeps) {
  const registry = new Registry();
  collectProcessMetrics(registry);

  const requests = new Counter({ name: 'arp_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'arp_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  new Gauge({
    name: 'arp_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        QUEUE_NAMES.map(async (queue) => {
          const counts = await deps.producer.queues[queue].getJobCounts(...JOB_STATES);
          for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
        }),
      );
    },
  });

  // One query per scrape feeds both task gauges.
  let totals: Promise<Awaited<ReturnType<GatewayDeps['repos']['tasks']['totals']>>> | undefined;
  const booksOnce = () => (totals ??= deps.repos.tasks.totals().finally(() => setTimeout(() => (totals = undefined), 0)));
  new Gauge({
    name: 'arp_tasks',
    help: 'Tasks per status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { byStatus } = await booksOnce();
      for (const status of TASK_STATUSES) this.set({ status }, byStatus[status] ?? 0);
    },
  });
  new Gauge({
    name: 'arp_money_fen',
    help: 'Money across all tasks by bucket, in fen (CNY minor units): limit, reserved, captured, refunded, released',
    labelNames: ['bucket'],
    registers: [registry],
    async collect() {
      const { money } = await booksOnce();
      for (const [bucket, fen] of Object.entries(money)) this.set({ bucket }, fen);
    },
  });

  /** Counts and times every request by its route pattern (never the raw path: ids would explode the labels). */
  const track: MiddlewareHandler = async (c, next) => {
    const end = latency.startTimer();
    await next();
    const route = routePath(c, -1) || 'unmatched';
    end({ method: c.req.method, route });
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };

  /**
   * GET /metrics in the Prometheus text format, behind the admin login `auth` (it shows money totals):
   * the gateway's own, and the pipeline's as this process sees it (shared/telemetry/metrics.ts: stage
   * jobs, provider calls, money moved, tasks ended — all of them under `npm start`; in a deployment of
   * separate processes, each worker serves its own on WORKER_HTTP_PORT).
   */
  const served = Registry.merge([registry, pipelineRegistry]);
  const routes = (auth: MiddlewareHandler) => new Hono().get('/', auth, async (c) => c.body(await served.metrics(), 200, { 'content-type': served.contentType }));

  return { registry, track, routes };
}
