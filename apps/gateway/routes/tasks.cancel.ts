import { Hono } from 'hono';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { taskView, viewParts } from '../view.ts';
import { findTask } from './tasks.read.ts';

/**
 * POST /v1/tasks/:id/cancel → 202: the cancel is recorded in Postgres; the next stage to touch the
 * task closes its token, releases what is reserved and marks it cancelled. 409 once it has ended.
 */
export function cancelTaskRoute(deps: GatewayDeps) {
  return new Hono<AuthEnv>().post('/:id/cancel', async (c) => {
    const tenant = c.get('tenant');
    const task = await findTask(deps, c.req.param('id'), tenant);
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
