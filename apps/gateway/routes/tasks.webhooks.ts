import { createRoute } from '@hono/zod-openapi';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { TaskIdParams } from '../schemas/common.ts';
import { WebhookDeliveries } from '../schemas/events.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { findTask } from './tasks.read.ts';

/** The contract of GET /v1/tasks/{id}/webhooks. */
export const getTaskWebhooks = createRoute({
  method: 'get',
  path: '/tasks/{id}/webhooks',
  operationId: 'getTaskWebhooks',
  tags: ['tasks'],
  summary: "A task's webhook deliveries and every attempt",
  description:
    'When a task submitted with `webhookUrl` ends, its final view is POSTed there, signed: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with WEBHOOK_SECRET>`, with `X-Webhook-Id` (the same on every retry). ' +
    'A receiver that does not answer 2xx is tried again with backoff for a day. An empty list: the task has no webhook, or has not ended yet.',
  request: { params: TaskIdParams },
  responses: {
    200: { description: 'The deliveries (one per task end), with every attempt.', content: { 'application/json': { schema: WebhookDeliveries } } },
    ...problemResponses(...V1_PROBLEMS, 'not_found'),
  },
});

/** GET /v1/tasks/:id/webhooks — what became of the task's webhook: state, attempts, what the receiver answered. */
export function taskWebhooksRoute(deps: GatewayDeps) {
  return contractRoutes<AuthEnv>().openapi(getTaskWebhooks, async (c) => {
    const task = await findTask(deps, c.req.valid('param').id, c.get('tenant'));
    const deliveries = await deps.repos.webhooks.forTask(task.id);
    const attempts = await deps.repos.webhooks.attempts(deliveries.map((d) => Number(d.id)));
    return c.json(
      {
        taskId: task.id,
        data: deliveries.map((d) => ({
          id: String(d.id),
          event: 'task.ended' as const,
          url: d.url,
          state: d.state,
          attempts: d.attempts,
          lastStatus: d.last_status,
          lastError: d.last_error,
          createdAt: d.created_at.toISOString(),
          ...(d.delivered_at ? { deliveredAt: d.delivered_at.toISOString() } : {}),
          history: (attempts.get(Number(d.id)) ?? []).map((a) => ({ attempt: a.attempt, at: a.at.toISOString(), status: a.status, error: a.error, durationMs: a.duration_ms })),
        })),
      },
      200,
    );
  });
}
