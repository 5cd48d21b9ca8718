import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { OperatorAuditEntry } from '../../../shared/db/schema.ts';
import type { AdminEnv } from '../admin-auth.ts';
import { checkRange, timeRange } from '../admin-params.ts';
import type { GatewayDeps } from '../deps.ts';
import { validate } from '../validate.ts';

const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const LIMIT_RULE = 'must be a whole number from 1 to 1000';

/** The query of GET /admin/audit: a time range, a page size (default 100) and the cursor of the page before. */
export const auditQuery = z.strictObject({
  ...timeRange,
  limit: z.preprocess(blankIsUnset, z.string().regex(/^[1-9]\d{0,3}$/, LIMIT_RULE).transform(Number).refine((n) => n <= 1000, LIMIT_RULE).default(100)),
  cursor: z.preprocess(blankIsUnset, z.string().regex(/^[1-9]\d{0,17}$/, 'is not a cursor this API gave').transform(Number).optional()),
});

const entryView = (e: OperatorAuditEntry) => ({
  id: Number(e.id),
  at: e.at.toISOString(),
  actor: e.actor,
  role: e.role,
  action: e.action,
  tenant: e.tenant,
  target: e.target,
  details: e.details,
  address: e.address,
  userAgent: e.user_agent,
  status: e.status,
});

/**
 * GET /admin/audit?from=&to=&limit=&cursor= (mounted at `/admin`; either admin login): the operators'
 * actions in the order they were recorded, `from` inclusive, `to` exclusive; `nextCursor` while more follow.
 */
export function adminAuditRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>) {
  return new Hono<AdminEnv>({ strict: false }).get('/audit', auth, async (c) => {
    const q = validate(auditQuery, c.req.query(), 'query');
    checkRange(q);
    const rows = await deps.repos.operatorAudit.list({ from: q.from, to: q.to, afterId: q.cursor, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    c.header('Cache-Control', 'no-store');
    return c.json({ data: page.map(entryView), ...(rows.length > q.limit ? { nextCursor: String(page.at(-1)!.id) } : {}) });
  });
}
