import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { html, raw } from 'hono/html';
import { z } from 'zod';
import type { DailyTotal, TaskUsage } from '../../../shared/db/dashboard.ts';
import { budgetView, CURRENCY, formatMoney, parseMoney } from '../../../shared/money.ts';
import { operatorTaskPath } from '../../console/paths.ts';
import { budgetChart, chartModel } from '../budget-chart.ts';
import type { AdminEnv } from '../admin-auth.ts';
import { BOARD_PATH } from '../board.ts';
import type { GatewayDeps } from '../deps.ts';
import { validate } from '../validate.ts';

/** Where the operators' and finance budget dashboard lives; its JSON twin is `${DASHBOARD_PATH}.json`. */
export const DASHBOARD_PATH = '/admin/dashboard';

/** How many UTC days of totals the dashboard shows. */
export const DASHBOARD_DAYS = 90;

const LIMIT_RULE = 'must be a whole number from 1 to 200';
/** Postgres text cannot hold NUL, and no tenant name needs control characters. */
const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

/** A blank field (as an empty form input sends it) counts as not given. */
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** The page's query: an optional tenant filter (blank means every tenant) and how many tasks to list (1–200, default 50). */
export const dashboardQuery = z.object({
  tenant: z.preprocess(blankIsUnset, z.string().trim().max(200, 'must be at most 200 characters').refine(noControl, 'must not contain control characters').optional()),
  limit: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^[1-9]\d{0,2}$/, LIMIT_RULE)
      .transform(Number)
      .refine((n) => n <= 200, LIMIT_RULE)
      .default(50),
  ),
});

/** What a task's aggregates say against its books: counted and equal, still counting, or wrong. */
export type DashboardStatus = 'in_sync' | 'lagging' | 'differs';

/** The health of one task's dashboard aggregates against its live books. */
export interface TaskHealth {
  status: DashboardStatus;
  /** Ledger rows of the task the dashboard has not counted yet. */
  pendingEvents: number;
  /** Ledger rows the task has. */
  ledgerEntries: number;
  /** The figures on which aggregates and books disagree (names of the aggregate columns, and `spent`). */
  differences: string[];
}

/**
 * Compares a task's budget_usage aggregates with its books. The aggregates count movements, so once
 * every ledger row is counted: reserved (all reserves) = books reserved + captured + released, and
 * captured, released, refunded, spent and the event count equal the books'. An aggregate above the
 * books can never be a lag (a movement counted twice, or counted for the wrong task): that `differs`
 * even while events are pending; below the books with events pending is `lagging`.
 */
export function taskHealth(t: TaskUsage): TaskHealth {
  const books = {
    reserved: t.reserved + t.captured + t.released,
    captured: t.captured,
    released: t.released,
    refunded: t.refunded,
    events: t.ledger_entries,
  };
  const usage = { reserved: t.usage_reserved, captured: t.usage_captured, released: t.usage_released, refunded: t.usage_refunded, events: t.usage_events };
  const counters = Object.keys(books) as Array<keyof typeof books>;
  const differences: string[] = counters.filter((k) => usage[k] !== books[k]);
  if (usage.captured - usage.refunded !== t.captured - t.refunded) differences.push('spent');
  const overCounted = counters.some((k) => usage[k] > books[k]);
  const status: DashboardStatus = overCounted ? 'differs' : t.pending_events > 0 ? 'lagging' : differences.length ? 'differs' : 'in_sync';
  return { status, pendingEvents: t.pending_events, ledgerEntries: t.ledger_entries, differences };
}

const dayView = (d: DailyTotal) => ({
  day: d.day,
  tenants: d.tenants,
  reserved: formatMoney(d.reserved),
  captured: formatMoney(d.captured),
  released: formatMoney(d.released),
  refunded: formatMoney(d.refunded),
  spent: formatMoney(d.captured - d.refunded),
  events: d.events,
  currency: CURRENCY,
});

const taskRowView = (t: TaskUsage) => ({
  id: t.id,
  tenant: t.tenant,
  theme: t.theme,
  status: t.status,
  stage: t.stage,
  createdAt: t.created_at.toISOString(),
  ...(t.ended_at ? { endedAt: t.ended_at.toISOString() } : {}),
  /** The live books, from the tasks row. */
  budget: {
    ...budgetView({ limit: t.budget_limit, reserved: t.reserved, captured: t.captured, refunded: t.refunded }),
    released: formatMoney(t.released),
  },
  /** The dashboard's aggregates (budget_usage): totals of movements; `reserved` counts every reserve. */
  usage: {
    counted: t.counted,
    reserved: formatMoney(t.usage_reserved),
    captured: formatMoney(t.usage_captured),
    released: formatMoney(t.usage_released),
    refunded: formatMoney(t.usage_refunded),
    spent: formatMoney(t.usage_captured - t.usage_refunded),
    events: t.usage_events,
    currency: CURRENCY,
  },
  dashboard: taskHealth(t),
  /** What memory saved: records reused instead of bought, at their listed prices. */
  memory: { reused: t.reused, saved: formatMoney(t.saved) },
  /** Money someone else charged to this task's token: a leaked credential, for operators to act on. */
  ...(t.foreign_charged > 0 ? { foreignCharged: formatMoney(t.foreign_charged) } : {}),
});

type DashboardData = Awaited<ReturnType<typeof load>>;

/** Reads everything the page shows; the queries live in the dashboard repository. */
async function load(deps: GatewayDeps, q: z.infer<typeof dashboardQuery>) {
  const [days, tasks] = await Promise.all([
    deps.repos.dashboard.dailyTotals({ tenant: q.tenant, days: DASHBOARD_DAYS }),
    deps.repos.dashboard.recentTasks({ tenant: q.tenant, limit: q.limit }),
  ]);
  const rows = tasks.map(taskRowView);
  const count = (s: DashboardStatus) => rows.filter((r) => r.dashboard.status === s).length;
  return {
    tenant: q.tenant ?? null,
    limit: q.limit,
    days: DASHBOARD_DAYS,
    currency: CURRENCY,
    generatedAt: new Date().toISOString(),
    summary: {
      tasks: rows.length,
      inSync: count('in_sync'),
      lagging: count('lagging'),
      differs: count('differs'),
      pendingEvents: rows.reduce((s, r) => s + r.dashboard.pendingEvents, 0),
      foreignCharges: rows.filter((r) => r.foreignCharged).length,
      reused: tasks.reduce((n, t) => n + t.reused, 0),
      saved: formatMoney(tasks.reduce((n, t) => n + t.saved, 0)),
    },
    daily: days.map(dayView),
    tasks: rows,
    links: { bullBoard: BOARD_PATH },
  };
}

/** A query string for the page's own links, keeping the filter. */
function queryString(tenant: string | null, limit: number): string {
  const params = new URLSearchParams();
  if (tenant !== null) params.set('tenant', tenant);
  if (limit !== 50) params.set('limit', String(limit));
  const s = params.toString();
  return s ? `?${s}` : '';
}

const STYLE = `
:root { color-scheme: light; --line: #d8dce3; --muted: #5b6472; --warn: #8a5300; --warn-bg: #fff4dd; --bad: #9b1c1c; --bad-bg: #fde8e8; --ok: #1e6b3a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.25rem 1.5rem 3rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1c2330; background: #f7f8fa; }
header { display: flex; align-items: baseline; gap: 1.5rem; flex-wrap: wrap; }
h1 { font-size: 1.35rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.75rem 0 .5rem; }
a { color: #1a56b8; }
.meta, .note { color: var(--muted); margin: .35rem 0; }
form { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; margin: 1rem 0 .5rem; }
input { font: inherit; padding: .2rem .4rem; }
.table { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; vertical-align: top; }
thead th { background: #eef1f5; font-weight: 600; }
thead tr.group th { text-align: center; border-left: 1px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.first, th.first { border-left: 1px solid var(--line); }
td.theme { max-width: 18rem; overflow: hidden; text-overflow: ellipsis; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.ok { color: var(--ok); }
tr.lagging td { background: var(--warn-bg); }
tr.lagging .flag { color: var(--warn); font-weight: 600; }
tr.differs td { background: var(--bad-bg); }
tr.differs .flag { color: var(--bad); font-weight: 600; }
tr.foreign td { background: var(--bad-bg); }
.foreign-charge { color: var(--bad); font-weight: 600; }
.empty { padding: .75rem; color: var(--muted); }
.chart-box { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: .5rem; margin-bottom: .75rem; }
.chart { display: block; width: 100%; height: auto; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis { font: 11px system-ui, sans-serif; fill: var(--muted); }
.chart .slot { fill: transparent; }
.chart .day:hover .slot { fill: #eef1f5; }
.chart .spent { fill: #1a56b8; }
.chart .refunded { fill: #2e9b6a; }
.legend { display: flex; gap: 1rem; margin: .35rem 0 0; color: var(--muted); }
.legend .key { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; vertical-align: -1px; margin-right: .3rem; }
.legend .key.spent { background: #1a56b8; }
.legend .key.refunded { background: #2e9b6a; }
@media (prefers-color-scheme: dark) {
  :root { color-scheme: dark; --line: #323b48; --muted: #9aa5b5; --warn: #f3bf5c; --warn-bg: #3a2c10; --bad: #ff8a8f; --bad-bg: #3a1d20; --ok: #6fd39a; }
  body { color: #e4e8ee; background: #11151b; }
  a { color: #7fb0ff; }
  .table, .chart-box { background: #1a2029; }
  thead th { background: #232a35; }
  .chart .day:hover .slot { fill: #232a35; }
  .chart .spent, .legend .key.spent { fill: #5d97f5; background: #5d97f5; }
  .chart .refunded, .legend .key.refunded { fill: #46c08a; background: #46c08a; }
}
`;

/** The chart of budget use per day: every day from the first with use (two weeks at least) to today, UTC. */
function dailyChart(d: DashboardData) {
  if (d.daily.length === 0) return '';
  const days = d.daily.map((r) => ({ day: r.day, spent: parseMoney(r.spent), refunded: parseMoney(r.refunded), released: parseMoney(r.released) }));
  const model = chartModel(days, d.generatedAt.slice(0, 10), { maxDays: d.days, minDays: 14 });
  return html`<div class="chart-box">${budgetChart(model, d.currency)}
<p class="legend" aria-hidden="true"><span><span class="key spent"></span>spent</span><span><span class="key refunded"></span>refunded (charged, then returned)</span></p></div>`;
}

function flagText(h: TaskHealth) {
  if (h.status === 'in_sync') return html`<span class="ok">in sync</span>`;
  if (h.status === 'lagging') return html`lagging: ${h.pendingEvents} of ${h.ledgerEntries} events not counted yet`;
  return html`differs: ${h.differences.join(', ')}`;
}

function dailyTable(d: DashboardData) {
  if (d.daily.length === 0) return html`<div class="table"><p class="empty">No budget use recorded yet.</p></div>`;
  return html`<div class="table"><table>
<thead><tr><th>Day (UTC)</th><th class="num">Tenants</th><th class="num">Reserved</th><th class="num">Captured</th><th class="num">Released</th><th class="num">Refunded</th><th class="num">Spent</th><th class="num">Events</th></tr></thead>
<tbody>${d.daily.map(
    (r) => html`
<tr id="day-${r.day}"><td>${r.day}</td><td class="num">${r.tenants}</td><td class="num">${r.reserved}</td><td class="num">${r.captured}</td><td class="num">${r.released}</td><td class="num">${r.refunded}</td><td class="num">${r.spent}</td><td class="num">${r.events}</td></tr>`,
  )}
</tbody></table></div>`;
}

function tasksTable(d: DashboardData) {
  if (d.tasks.length === 0) return html`<div class="table"><p class="empty">No tasks.</p></div>`;
  return html`<div class="table"><table>
<thead>
<tr class="group"><th colspan="6"></th><th colspan="5">Books (tasks row, live)</th><th colspan="6">Dashboard aggregates (budget_usage)</th><th>Aggregates vs books</th><th colspan="2">Memory</th></tr>
<tr><th>Task</th><th>Created (UTC)</th><th>Tenant</th><th>Theme</th><th>Status</th><th class="num">Limit</th>
<th class="num first">Reserved</th><th class="num">Spent</th><th class="num">Refunded</th><th class="num">Released</th><th class="num">Remaining</th>
<th class="num first">Reserved (all)</th><th class="num">Captured</th><th class="num">Released</th><th class="num">Refunded</th><th class="num">Spent</th><th class="num">Events</th>
<th class="first">Check</th><th class="num first">Reused</th><th class="num">Saved</th></tr>
</thead>
<tbody>${d.tasks.map(
    (t) => html`
<tr id="task-${t.id}" class="${t.dashboard.status}${t.foreignCharged ? ' foreign' : ''}" data-status="${t.dashboard.status}"><td><a href="${operatorTaskPath(t.id)}" title="Open in the console (operator view)"><code>${t.id}</code></a></td><td>${t.createdAt.slice(0, 19).replace('T', ' ')}</td><td><a href="${DASHBOARD_PATH}${queryString(t.tenant, d.limit)}">${t.tenant}</a></td><td class="theme" title="${t.theme}">${t.theme}</td><td>${t.status}${t.stage ? html` (${t.stage})` : ''}</td><td class="num">${t.budget.limit}</td>
<td class="num first">${t.budget.reserved}</td><td class="num">${t.budget.spent}</td><td class="num">${t.budget.refunded}</td><td class="num">${t.budget.released}</td><td class="num">${t.budget.remaining}</td>
<td class="num first">${t.usage.reserved}</td><td class="num">${t.usage.captured}</td><td class="num">${t.usage.released}</td><td class="num">${t.usage.refunded}</td><td class="num">${t.usage.spent}</td><td class="num">${t.usage.events}</td>
<td class="first flag">${flagText(t.dashboard)}${t.foreignCharged ? html`<br><span class="foreign-charge">charged by someone else: ${t.foreignCharged}</span>` : ''}</td>
<td class="num first">${t.memory.reused}</td><td class="num">${t.memory.saved}</td></tr>`,
  )}
</tbody></table></div>`;
}

/** The page: every value goes through hono/html, which escapes it. No scripts, no external assets. */
function page(d: DashboardData) {
  const s = d.summary;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Budget dashboard · agent-research-pay</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<header>
<h1>Budget dashboard</h1>
<nav><a href="${BOARD_PATH}">Bull Board (queues)</a> · <a href="${DASHBOARD_PATH}.json${queryString(d.tenant, d.limit)}">this page as JSON</a></nav>
</header>
<p class="meta">Tenant: <strong>${d.tenant ?? 'all tenants'}</strong> · amounts in ${d.currency} · generated ${d.generatedAt}</p>
<form method="get" action="${DASHBOARD_PATH}">
<label>Tenant <input name="tenant" value="${d.tenant ?? ''}" placeholder="all tenants" maxlength="200"></label>
<label>Tasks <input name="limit" type="number" min="1" max="200" value="${d.limit}"></label>
<button type="submit">Show</button>
${d.tenant !== null ? html`<a href="${DASHBOARD_PATH}${queryString(null, d.limit)}">all tenants</a>` : ''}
</form>

<h2>Dashboard health</h2>
<p id="health">Tasks below: ${s.tasks} · in sync: <strong>${s.inSync}</strong> · lagging: <strong>${s.lagging}</strong> (events not counted yet: ${s.pendingEvents}) · differing from the books: <strong>${s.differs}</strong> · charged by someone else: <strong>${s.foreignCharges}</strong></p>
<p id="memory">Reused from the tenants' memory instead of bought, in the tasks below: <strong>${s.reused}</strong> record(s), saving <strong>${s.saved}</strong> ${d.currency} (their listed prices).</p>
<p class="note">The aggregates are fed by the dashboard queue, so they trail the books by the queue's backlog; "lagging" means ledger rows are still waiting to be counted (see Bull Board). "differs" means all events were counted (or some more than once) and the figures still disagree with the books: that needs a look.</p>

<h2>Daily totals (last ${d.days} days with budget use)</h2>
<p class="note">From the dashboard aggregates (budget_usage_daily), by UTC day of the ledger movement${d.tenant === null ? ', summed over all tenants' : ''}. Reserved, captured, released and refunded are totals of movements; spent = captured − refunded.</p>
${dailyChart(d)}
${dailyTable(d)}

<h2>Recent tasks (newest ${d.limit})</h2>
<p class="note">Each task's id opens it in the console, read-only (operator view, any tenant): its stages, companies, money and report, followed live. Books: the task's live budget (reserved = held now; spent = captured − refunded; remaining = limit − spent − reserved). Aggregates: what the dashboard counted; "reserved (all)" totals every reservation ever made, so it equals the books' reserved + captured + released once counted.</p>
${tasksTable(d)}
</body>
</html>
`;
}

/** Financial figures behind a password: never cached, never framed, and the page runs no script. */
function secure(c: Context) {
  c.header('Cache-Control', 'no-store');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
}

/**
 * The operators' and finance budget dashboard, behind the admin login `auth` (either login; it only reads):
 * GET /admin/dashboard (HTML) and GET /admin/dashboard.json (the same data, money as decimal strings).
 * Mounted at `/admin`.
 */
export function adminDashboardRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>) {
  return new Hono<AdminEnv>({ strict: false })
    .get('/dashboard', auth, async (c) => {
      const data = await load(deps, validate(dashboardQuery, c.req.query(), 'query'));
      secure(c);
      return c.html(page(data));
    })
    .get('/dashboard.json', auth, async (c) => {
      const data = await load(deps, validate(dashboardQuery, c.req.query(), 'query'));
      secure(c);
      return c.json(data);
    });
}
