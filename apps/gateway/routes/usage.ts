import { createRoute, z } from '@hono/zod-openapi';
import { formatMoney } from '../../../shared/money.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { Currency, Money, TaskIdParams } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { findTask } from './tasks.read.ts';

const money = (row: { reserved: number; captured: number; released: number; refunded: number; events: number }) => ({
  reserved: formatMoney(row.reserved),
  captured: formatMoney(row.captured),
  released: formatMoney(row.released),
  refunded: formatMoney(row.refunded),
  spent: formatMoney(row.captured - row.refunded),
  events: row.events,
  currency: 'CNY' as const,
});

/** Totals of money movements (reserved counts every reserve); `spent` = captured − refunded. */
const UsageFigures = {
  reserved: Money,
  captured: Money,
  released: Money,
  refunded: Money,
  spent: Money,
  events: z.number().int().min(0).openapi({ description: 'How many ledger movements were counted.' }),
  currency: Currency,
};

/** One day of a tenant's budget use. */
export const UsageDay = z.strictObject({ day: z.iso.date().openapi({ example: '2026-11-29' }), ...UsageFigures }).openapi('UsageDay');

/** A tenant's budget use per UTC day, newest first (the last 90 days with use). */
export const UsageByDay = z.strictObject({ data: z.array(UsageDay) }).openapi('UsageByDay');

/** One task's budget use. */
export const TaskUsage = z.strictObject({ taskId: z.uuid(), ...UsageFigures }).openapi('TaskUsage');

/** The contract of GET /v1/usage. */
export const getUsage = createRoute({
  method: 'get',
  path: '/usage',
  operationId: 'getUsage',
  tags: ['usage'],
  summary: "The tenant's budget use per day",
  responses: {
    200: { description: 'Per UTC day, newest first, as the dashboard queue aggregated the ledger.', content: { 'application/json': { schema: UsageByDay } } },
    ...problemResponses(...V1_PROBLEMS),
  },
});

/** The contract of GET /v1/tasks/{id}/usage. */
export const getTaskUsage = createRoute({
  method: 'get',
  path: '/tasks/{id}/usage',
  operationId: 'getTaskUsage',
  tags: ['usage'],
  summary: "A task's budget use",
  request: { params: TaskIdParams },
  responses: {
    200: { description: 'As the dashboard queue aggregated the ledger (zeros before the first movement).', content: { 'application/json': { schema: TaskUsage } } },
    ...problemResponses(...V1_PROBLEMS, 'not_found'),
  },
});

/**
 * The budget-use dashboard, as the dashboard queue aggregated it: GET /v1/usage (per day) and
 * GET /v1/tasks/:id/usage (per task). Amounts are totals of movements (reserved counts every reserve).
 */
export function usageRoutes(deps: GatewayDeps) {
  return contractRoutes<AuthEnv>()
    .openapi(getUsage, async (c) => {
      const days = await deps.repos.dashboard.daily(c.get('tenant'));
      return c.json({ data: days.map((d) => ({ day: d.day, ...money(d) })) }, 200);
    })
    .openapi(getTaskUsage, async (c) => {
      const task = await findTask(deps, c.req.valid('param').id, c.get('tenant'));
      const row = await deps.repos.dashboard.forTask(task.id);
      return c.json({ taskId: task.id, ...money(row ?? { reserved: 0, captured: 0, released: 0, refunded: 0, events: 0 }) }, 200);
    });
}
