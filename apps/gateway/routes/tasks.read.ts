import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { validate } from '../validate.ts';
import { taskView } from '../view.ts';

const uuid = z.uuid();

/** A task id that is not a UUID cannot exist: 404, as for an unknown one. */
export async function findTask(deps: GatewayDeps, id: string, tenant: string) {
  const task = uuid.safeParse(id).success ? await deps.repos.tasks.get(id, tenant) : undefined;
  if (!task) throw new ApiError('not_found', `no task ${id}`);
  return task;
}

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The cursor is opaque to clients: the insertion sequence of the last task of the page. */
function encodeCursor(seq: number): string {
  return Buffer.from(`v1:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^v1:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new ApiError('validation_failed', 'the cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API returned' }]);
  return Number(match[1]);
}

/** GET /v1/tasks (newest first, cursor-paginated) and GET /v1/tasks/:id. */
export function readTaskRoutes(deps: GatewayDeps) {
  return new Hono<AuthEnv>()
    .get('/', async (c) => {
      const q = validate(listQuery, c.req.query(), 'query');
      const tasks = await deps.repos.tasks.list(c.get('tenant'), q.limit + 1, q.cursor ? decodeCursor(q.cursor) : undefined);
      const page = tasks.slice(0, q.limit);
      const companies = await deps.repos.companies.listForTasks(page.map((t) => t.id));
      const last = page.at(-1);
      return c.json({
        data: page.map((t) => taskView(t, companies.get(t.id) ?? [])),
        ...(tasks.length > q.limit && last ? { nextCursor: encodeCursor(last.seq) } : {}),
      });
    })
    .get('/:id', async (c) => {
      const task = await findTask(deps, c.req.param('id'), c.get('tenant'));
      return c.json(taskView(task, await deps.repos.companies.list(task.id)));
    });
}
