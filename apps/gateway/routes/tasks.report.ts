import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import type { Task } from '../../../shared/db/index.ts';
import { ApiError } from '../../../shared/errors.ts';
import { REPORT_CSP, reportPage } from '../../../shared/report/html.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { TaskIdParams } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { findTask } from './tasks.read.ts';

/** The contract of GET /v1/tasks/{id}/report. */
export const getReport = createRoute({
  method: 'get',
  path: '/tasks/{id}/report',
  operationId: 'getReport',
  tags: ['tasks'],
  summary: "A completed task's report",
  description:
    'Markdown by default. `Accept: text/html` (preferred over markdown by its q-value) gets the page rendered and sanitised, under a Content-Security-Policy that lets nothing load or run; any other type gets markdown. The report quotes third parties, so both come with `X-Content-Type-Options: nosniff`.',
  request: { params: TaskIdParams },
  responses: {
    200: {
      description: 'The report.',
      headers: {
        Vary: { description: '`Accept`', schema: { type: 'string' } },
        'X-Content-Type-Options': { description: '`nosniff`', schema: { type: 'string' } },
        'Content-Security-Policy': { description: 'On the HTML page: nothing may load or run.', schema: { type: 'string' } },
      },
      content: {
        'text/markdown': { schema: z.string().openapi({ example: '# Research report: solid-state battery makers\n…' }) },
        'text/html': { schema: z.string().openapi({ example: '<!doctype html><html>…</html>' }) },
      },
    },
    ...problemResponses(...V1_PROBLEMS, 'not_found', 'report_not_ready'),
  },
});

/**
 * GET /v1/tasks/:id/report → the report once the task completed; 409 report_not_ready before. Markdown
 * by default (`text/markdown`); `Accept: text/html` (preferred over markdown by its q-value) gets the page
 * rendered and sanitised (shared/report/html.ts) under a Content-Security-Policy that lets nothing load
 * or run. The report quotes third parties, so a browser is told not to sniff either (`nosniff`).
 */
export function reportRoute(deps: GatewayDeps) {
  return contractRoutes<AuthEnv>().openapi(getReport, async (c) => reportAnswer(c, deps, await findTask(deps, c.req.valid('param').id, c.get('tenant'))));
}

/**
 * The report of `task` as `Accept` asks (markdown, or the sanitised page under REPORT_CSP); 409
 * report_not_ready before it completed. Shared by the tenant's route and the operators' read-only view
 * (apps/console/admin.ts).
 */
export async function reportAnswer(c: Context, deps: GatewayDeps, task: Pick<Task, 'id' | 'status' | 'theme'>): Promise<Response> {
  const report = task.status === 'completed' ? await deps.repos.reports.get(task.id) : undefined;
  if (!report) throw new ApiError('report_not_ready', `task ${task.id} is ${task.status}; its report is written when it completes`);
  c.header('vary', 'Accept');
  c.header('x-content-type-options', 'nosniff');
  const type = accepts(c, { header: 'Accept', supports: ['text/markdown', 'text/html'], default: 'text/markdown' });
  if (type === 'text/html') {
    return c.body(reportPage(report.markdown, `Research report: ${task.theme}`), 200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': REPORT_CSP,
      'referrer-policy': 'no-referrer',
    });
  }
  return c.body(report.markdown, 200, { 'content-type': 'text/markdown; charset=utf-8' });
}
