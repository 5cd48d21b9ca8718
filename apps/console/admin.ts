import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';
import { reportBodyHtml } from '../../shared/report/html.ts';
import type { AdminEnv } from '../gateway/admin-auth.ts';
import type { GatewayDeps } from '../gateway/deps.ts';
import type { TaskEventStreams } from '../gateway/event-streams.ts';
import { DASHBOARD_PATH } from '../gateway/routes/admin.dashboard.ts';
import { storyAnswer, storyPosition } from '../gateway/routes/tasks.events.ts';
import { reportAnswer } from '../gateway/routes/tasks.report.ts';
import { taskView, viewParts } from '../gateway/view.ts';
import { PAGE_HEADERS } from './csp.ts';
import { operatorTaskPage } from './page.tsx';
import { OPERATOR_CONSOLE_PATH, OPERATOR_TASKS_PATH } from './paths.ts';

const uuid = z.uuid();

/** Any tenant's task; not a UUID or unknown → 404, as on the v1 routes. */
async function anyTask(deps: GatewayDeps, id: string) {
  const task = uuid.safeParse(id).success ? await deps.repos.tasks.get(id) : undefined;
  if (!task) throw new ApiError('not_found', `no task ${id}`);
  return task;
}

/** The task's v1 view with its tenant: what the operators' page shows and its script reads. */
async function operatorView(deps: GatewayDeps, id: string) {
  const task = await anyTask(deps, id);
  return { task, view: { tenant: task.tenant, ...taskView(task, ...(await viewParts(deps.repos, task.id))) } };
}

const strip = (path: string) => path.replace(/^\/admin/, '');

/**
 * The operators' read-only view of any tenant's task, behind the admin login `auth` (either login; it
 * only reads, as the dashboard and Bull Board do). Mounted at `/admin`:
 * - GET /admin/console/tasks/:id — the console's task page, rendered whole from the books (report included
 *   once written), then followed live by the console script through the three routes below;
 * - GET /admin/tasks/:id — the v1 task view plus `tenant`;
 * - GET /admin/tasks/:id/events — the task's story, as GET /v1/tasks/:id/events tells it (SSE, or JSON);
 * - GET /admin/tasks/:id/report — the report, as GET /v1/tasks/:id/report answers it (markdown or sanitised HTML).
 * An operator needs no tenant's key (keys are kept only as digests, so nobody could hand one over): the
 * admin login already reads every tenant's figures and job data, and nothing here can change a task.
 */
export function adminConsoleRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>, streams: TaskEventStreams) {
  return new Hono<AdminEnv>({ strict: false })
    .get(`${strip(OPERATOR_CONSOLE_PATH)}/:id`, auth, async (c) => {
      const { task, view } = await operatorView(deps, c.req.param('id'));
      const report = task.status === 'completed' ? await deps.repos.reports.get(task.id) : undefined;
      const html = await operatorTaskPage(view, report ? reportBodyHtml(report.markdown) : undefined, DASHBOARD_PATH);
      return c.body(`<!doctype html>\n${html}`, 200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' });
    })
    .get(`${strip(OPERATOR_TASKS_PATH)}/:id`, auth, async (c) => {
      const { view } = await operatorView(deps, c.req.param('id'));
      c.header('cache-control', 'no-store');
      return c.json(view);
    })
    .get(`${strip(OPERATOR_TASKS_PATH)}/:id/events`, auth, async (c) => {
      const task = await anyTask(deps, c.req.param('id'));
      return storyAnswer(c, deps, streams, task, storyPosition(c.req.header('last-event-id'), c.req.query('after')));
    })
    .get(`${strip(OPERATOR_TASKS_PATH)}/:id/report`, auth, async (c) => {
      c.header('cache-control', 'no-store');
      return reportAnswer(c, deps, await anyTask(deps, c.req.param('id')));
    });
}
