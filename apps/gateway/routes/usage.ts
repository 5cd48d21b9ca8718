import { Hono } from 'hono';
import { formatMoney } from '../../../shared/money.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { findTask } from './tasks.read.ts';

const money = (row: { reserved: number; captured: number; released: number; refunded: number; events: number }) => ({
  reserved: formatMoney(row.reserved),
  captured: formatMoney(row.captured),
  released: formatMoney(row.released),
  refunded: formatMoney(row.refunded),
  spent: formatMoney(row.captured - row.refunded),
  events: row.events,
  currency: 'CNY',
});

/**
 * The budget-use dashboard, as the dashboard queue aggregated it: GET /v1/usage (per day) and
 * GET /v1/tasks/:id/usage (per task). Amounts are totals of movements (reserved counts every reserve).
 */
export function usageRoutes(deps: GatewayDeps) {
  return new Hono<AuthEnv>()
    .get('/usage', async (c) => {
      const days = await deps.repos.dashboard.daily(c.get('tenant'));
      return c.json({ data: days.map((d) => ({ day: d.day, ...money(d) })) });
    })
    .get('/tasks/:id/usage', async (c) => {
      const task = await findTask(deps, c.req.param('id'), c.get('tenant'));
      const row = await deps.repos.dashboard.forTask(task.id);
      return c.json({ taskId: task.id, ...money(row ?? { reserved: 0, captured: 0, released: 0, refunded: 0, events: 0 }) });
    });
}
