import { Hono } from 'hono';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { findTask } from './tasks.read.ts';

/**
 * GET /v1/tasks/:id/report → the markdown once the task completed; 409 report_not_ready before. The
 * report quotes third parties, so a browser is told not to sniff it into HTML (`nosniff`).
 */
export function reportRoute(deps: GatewayDeps) {
  return new Hono<AuthEnv>().get('/:id/report', async (c) => {
    const task = await findTask(deps, c.req.param('id'), c.get('tenant'));
    const report = task.status === 'completed' ? await deps.repos.reports.get(task.id) : undefined;
    if (!report) throw new ApiError('report_not_ready', `task ${task.id} is ${task.status}; its report is written when it completes`);
    return c.body(report.markdown, 200, { 'content-type': 'text/markdown; charset=utf-8', 'x-content-type-options': 'nosniff' });
  });
}
