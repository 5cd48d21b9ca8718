import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { TaskIdParams } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { TaskView } from '../schemas/task.ts';
import { taskView, viewParts } from '../view.ts';
import { findTask } from './tasks.read.ts';

/** The contract of POST /v1/tasks/{id}/cancel. */
export const cancelTask = createRoute({
  method: 'post',
  path: '/tasks/{id}/cancel',
  operationId: 'cancelTask',
  tags: ['tasks'],
  summary: 'Cancel a task',
  description: 'The cancel is recorded at once; the next stage to touch the task closes its token, releases what is reserved and marks it `cancelled` (purchases in flight settle first). No body is read.',
  request: { params: TaskIdParams },
  responses: {
    202: { description: 'The task, with `cancelRequested: true` until it has stopped.', content: { 'application/json': { schema: TaskView } } },
    ...problemResponses(...V1_PROBLEMS, 'not_found', 'task_already_ended', 'payload_too_large'),
  },
});

/**
 * POST /v1/tasks/:id/cancel → 202: the cancel is recorded in Postgres; the next stage to touch the
 * task closes its token, releases what is reserved and marks it cancelled. 409 once it has ended.
 */
export function cancelTaskRoute(deps: GatewayDeps) {
  return contractRoutes<AuthEnv>().openapi(cancelTask, async (c) => {
    const tenant = c.get('tenant');
    const task = await findTask(deps, c.req.valid('param').id, tenant);
    if (!(await deps.repos.tasks.requestCancel(task.id, tenant))) {
      throw new ApiError('task_already_ended', `task ${task.id} has already ended (${task.status})`);
    }
    // A task still waiting for its search is stopped by that job (queued again here in case it was
    // lost); a running one is stopped by its next stage, after the purchases in flight have settled.
    if (task.status === 'queued') await deps.producer.search(task.id).catch(() => undefined);
    const fresh = (await deps.repos.tasks.get(task.id))!;
    return c.json(taskView(fresh, ...(await viewParts(deps.repos, task.id))), 202);
  });
}
