import { createRoute, z } from '@hono/zod-openapi';
import { keyringFrom } from '../../../shared/crypto/keyring.ts';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { pageLimit, TaskIdParams } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { TaskList, TaskView } from '../schemas/task.ts';
import { taskView, viewParts } from '../view.ts';
import { ListCursors } from './list-cursor.ts';

const uuid = z.uuid();

/** A task id that is not a UUID cannot exist: 404, as for an unknown one. */
export async function findTask(deps: GatewayDeps, id: string, tenant: string) {
  const task = uuid.safeParse(id).success ? await deps.repos.tasks.get(id, tenant) : undefined;
  if (!task) throw new ApiError('not_found', `no task ${id}`);
  return task;
}

export const ListTasksQuery = z.object({
  limit: pageLimit('tasks'),
  cursor: z
    .string()
    .max(300)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query', description: "The previous page's `nextCursor`. Opaque; one this API gave another tenant is 400 naming `cursor`." } }),
});

/** The contract of GET /v1/tasks. */
export const listTasks = createRoute({
  method: 'get',
  path: '/tasks',
  operationId: 'listTasks',
  tags: ['tasks'],
  summary: "The tenant's tasks, newest first",
  request: { query: ListTasksQuery },
  responses: {
    200: { description: 'A page of tasks.', content: { 'application/json': { schema: TaskList } } },
    ...problemResponses(...V1_PROBLEMS, 'validation_failed'),
  },
});

/** The contract of GET /v1/tasks/{id}. */
export const getTask = createRoute({
  method: 'get',
  path: '/tasks/{id}',
  operationId: 'getTask',
  tags: ['tasks'],
  summary: 'A task: status, budget, companies, plan, model use',
  request: { params: TaskIdParams },
  responses: {
    200: { description: 'The task.', content: { 'application/json': { schema: TaskView } } },
    ...problemResponses(...V1_PROBLEMS, 'not_found'),
  },
});

/**
 * GET /v1/tasks (newest first, cursor-paginated) and GET /v1/tasks/:id. The list's cursor is opaque and
 * bound to the tenant (list-cursor.ts).
 */
export function readTaskRoutes(deps: GatewayDeps) {
  const cursors = new ListCursors(keyringFrom(deps.config.DATA_ENCRYPTION_KEYS));
  return contractRoutes<AuthEnv>()
    .openapi(listTasks, async (c) => {
      const q = c.req.valid('query');
      const tenant = c.get('tenant');
      const tasks = await deps.repos.tasks.list(tenant, q.limit + 1, q.cursor ? cursors.open(q.cursor, tenant) : undefined);
      const page = tasks.slice(0, q.limit);
      const ids = page.map((t) => t.id);
      const [companies, plans, use, sources] = await Promise.all([
        deps.repos.companies.listForTasks(ids),
        deps.repos.agent.plansFor(ids),
        deps.repos.agent.useFor(ids),
        deps.repos.memory.reuseSources(ids),
      ]);
      const last = page.at(-1);
      return c.json(
        {
          data: page.map((t) => taskView(t, companies.get(t.id) ?? [], { plan: plans.get(t.id), model: use.get(t.id)!, reusedFrom: sources.get(t.id) })),
          ...(tasks.length > q.limit && last ? { nextCursor: cursors.seal(last.seq, tenant) } : {}),
        },
        200,
      );
    })
    .openapi(getTask, async (c) => {
      const task = await findTask(deps, c.req.valid('param').id, c.get('tenant'));
      return c.json(taskView(task, ...(await viewParts(deps.repos, task.id))), 200);
    });
}
