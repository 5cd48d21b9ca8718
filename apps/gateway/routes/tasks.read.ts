import { Hono } from 'hono';
import { z } from 'zod';
import { keyringFrom } from '../../../shared/crypto/keyring.ts';
import { ApiError } from '../../../shared/errors.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { validate } from '../validate.ts';
import { taskView, viewParts } from '../view.ts';
import { ListCursors } from './list-cursor.ts';

const uuid = z.uuid();

/** A task id that is not a UUID cannot exist: 404, as for an unknown one. */
export async function findTask(deps: GatewayDeps, id: string, tenant: string) {
  const task = uuid.safeParse(id).success ? await deps.repos.tasks.get(id, tenant) : undefined;
  if (!task) throw new ApiError('not_found', `no task ${id}`);
  return task;
}

const LIMIT_RULE = 'must be a whole number from 1 to 100, in decimal digits';

const listQuery = z.object({
  // Decimal digits only: no `0x2`, `1e1`, ` 2` or `2.0`, which a number coercion would take.
  limit: z.string().regex(/^\d{1,3}$/, LIMIT_RULE).transform(Number).refine((n) => n >= 1 && n <= 100, LIMIT_RULE).default(20),
  cursor: z.string().max(300).optional(),
});

/**
 * GET /v1/tasks (newest first, cursor-paginated) and GET /v1/tasks/:id. The list's cursor is opaque and
 * bound to the tenant (list-cursor.ts).
 */
export function readTaskRoutes(deps: GatewayDeps) {
  const cursors = new ListCursors(keyringFrom(deps.config.DATA_ENCRYPTION_KEYS));
  return new Hono<AuthEnv>()
    .get('/', async (c) => {
      const q = validate(listQuery, c.req.query(), 'query');
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
      return c.json({
        data: page.map((t) => taskView(t, companies.get(t.id) ?? [], { plan: plans.get(t.id), model: use.get(t.id)!, reusedFrom: sources.get(t.id) })),
        ...(tasks.length > q.limit && last ? { nextCursor: cursors.seal(last.seq, tenant) } : {}),
      });
    })
    .get('/:id', async (c) => {
      const task = await findTask(deps, c.req.param('id'), c.get('tenant'));
      return c.json(taskView(task, ...(await viewParts(deps.repos, task.id))));
    });
}
