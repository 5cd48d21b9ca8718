import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { BlankEnv } from 'hono/types';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../../shared/errors.ts';
import { jwtSettings } from '../../shared/config.ts';
import { policyDefaults } from '../../shared/tenants/policy.ts';
import { adminAuth, type AdminEnv } from './admin-auth.ts';
import { adminWriteGuard } from './admin-guard.ts';
import { ApiKeys, apiKeyAuth, type AuthEnv } from './auth.ts';
import { jwtVerifier } from './jwt.ts';
import { boardRoutes, BOARD_PATH } from './board.ts';
import type { GatewayDeps } from './deps.ts';
import { docsRoutes, DOCS_PATH } from './docs.ts';
import { createMetrics } from './metrics.ts';
import { requestSpan, taskOf, taskScope } from './observe.ts';
import { contractRoutes, serveOpenApi } from './openapi.ts';
import { errorHandler, problem } from './problem.ts';
import { operatorContext } from './operator.ts';
import { adminConsoleRoutes } from '../console/admin.ts';
import { CONSOLE_PATH } from '../console/paths.ts';
import { consoleRoutes } from '../console/routes.ts';
import { adminAuditRoutes } from './routes/admin.audit.ts';
import { adminDashboardRoutes } from './routes/admin.dashboard.ts';
import { adminKeyRoutes } from './routes/admin.keys.ts';
import { adminLedgerRoutes } from './routes/admin.ledger.ts';
import { adminPolicyRoutes } from './routes/admin.policy.ts';
import { healthRoutes } from './routes/health.ts';
import { memoryRoutes } from './routes/memory.ts';
import { cancelTaskRoute } from './routes/tasks.cancel.ts';
import { createTaskRoute } from './routes/tasks.create.ts';
import { readTaskRoutes } from './routes/tasks.read.ts';
import { paymentsRoute } from './routes/tasks.payments.ts';
import { taskEventsRoute } from './routes/tasks.events.ts';
import { taskWebhooksRoute } from './routes/tasks.webhooks.ts';
import { TaskEventStreams } from './event-streams.ts';
import { publishEventWakeups } from '../../shared/events/wakeups.ts';
import { reportRoute } from './routes/tasks.report.ts';
import { usageRoutes } from './routes/usage.ts';
import { SignInGate } from './sign-in.ts';
import { TenantRateLimit } from './tenant-rate.ts';
import { MAX_BODY_BYTES } from './validate.ts';

/**
 * The gateway: the v1 API (DESIGN.md §5), health, its OpenAPI document (/openapi.json, /docs), Bull
 * Board, the operators' routes and the people's console (/console, apps/console). Routes with a contract (`contractRoutes`, `.openapi()`) are in the
 * document; the operators' routes are plain Hono routes and stay out of it on purpose.
 */
export function createApp(deps: GatewayDeps): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>({ strict: false });
  const metrics = createMetrics(deps);
  app.onError(errorHandler(deps.log));
  // First, so that the span (when tracing) holds all the rest of the request.
  app.use('*', requestSpan());
  app.use('*', metrics.track);
  // Access log: one line per request (health probes at debug level, they come every few seconds).
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const taskId = taskOf(c);
    const line = { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started), ...(taskId ? { taskId } : {}) };
    if (c.req.path === '/healthz' || c.req.path === '/readyz') deps.log.debug(line, 'request');
    else deps.log.info(line, 'request');
  });
  app.notFound((c) => problem(c, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  // Bodies are refused by Content-Length up front, and a chunked one stops being read at the limit.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError('payload_too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  // Every sign-in is counted per client address; the admin pages take no cross-site or non-JSON writes.
  const gate = new SignInGate(deps);
  const admin = adminAuth(deps.config, gate);
  app.use('/admin', adminWriteGuard(gate.addresses));
  app.use('/admin/*', adminWriteGuard(gate.addresses));

  // API keys: the bootstrap list and the keys in Postgres (cached briefly, dropped when revoked anywhere).
  const keys = new ApiKeys(deps.config.API_KEYS, deps.repos.apiKeys, { log: deps.log }).follow(deps.revocations);
  const defaults = policyDefaults(deps.config);
  const who = (c: Context<AdminEnv>) => operatorContext(c, gate.addresses);
  // The live follow of task stories, for the tenants' stream and the operators' view alike.
  const streams = deps.eventStreams ?? new TaskEventStreams(deps.repos.events, undefined, deps.config.QUEUE_PREFIX, deps.log, { heartbeatMs: deps.config.EVENTS_HEARTBEAT_MS ?? 15_000 });

  app.route('/', healthRoutes(deps));
  app.route(BOARD_PATH, boardRoutes(deps.producer, admin, { audit: deps.repos.operatorAudit, who, log: deps.log }));
  app.route('/admin', adminDashboardRoutes(deps, admin));
  app.route('/admin', adminKeyRoutes(deps, admin, gate.addresses, (keyId) => keys.forget(keyId)));
  app.route('/admin', adminPolicyRoutes(deps, admin, gate.addresses, defaults));
  app.route('/admin', adminAuditRoutes(deps, admin));
  app.route('/admin', adminLedgerRoutes(deps, admin));
  app.route('/admin', adminConsoleRoutes(deps, admin, streams));
  app.route('/metrics', metrics.routes(admin));

  // Every /v1 route has a contract: mount it here and it is served, validated and documented.
  const v1 = contractRoutes<AuthEnv>();
  const jwt = jwtSettings(deps.config);
  v1.use('*', apiKeyAuth(keys, gate, jwt && jwtVerifier(jwt)));
  v1.route('/', createTaskRoute(deps, { rate: new TenantRateLimit(deps.redis, deps.config.QUEUE_PREFIX, deps.log), defaults }));
  v1.route('/', readTaskRoutes(deps));
  v1.route('/', cancelTaskRoute(deps));
  v1.route('/', reportRoute(deps));
  v1.route('/', paymentsRoute(deps));
  // Events the gateway writes (created, cancel_requested) wake every gateway's streams, as the workers' do.
  publishEventWakeups(deps.repos, deps.redis, deps.config.QUEUE_PREFIX);
  v1.route('/', taskEventsRoute(deps, streams));
  v1.route('/', taskWebhooksRoute(deps));
  v1.route('/', usageRoutes(deps));
  v1.route('/', memoryRoutes(deps));
  // `/:id/*` matches `/v1/tasks/:id` itself too.
  app.use('/v1/tasks/:id/*', taskScope());
  app.route('/v1', v1);

  serveOpenApi(app);
  app.route(DOCS_PATH, docsRoutes());
  // The people's console: pages and their two files, no credentials (the script reads /v1 with the person's key).
  app.route(CONSOLE_PATH, consoleRoutes());
  return app;
}
