import { Hono } from 'hono';
import { z } from 'zod';
import { keyringFrom } from '../../../shared/crypto/keyring.ts';
import type { Recalled } from '../../../shared/db/index.ts';
import { ApiError } from '../../../shared/errors.ts';
import { escapeInline } from '../../../shared/markdown/escape.ts';
import { formatMoney } from '../../../shared/money.ts';
import { forgetInReport } from '../../../queues/report/forget.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { ONE_LINE, oneLine, validate } from '../validate.ts';
import { MemoryCursors } from './memory-cursor.ts';

const LIMIT_RULE = 'must be a whole number from 1 to 100, in decimal digits';

const listQuery = z.object({
  q: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
  limit: z.string().regex(/^\d{1,3}$/, LIMIT_RULE).transform(Number).refine((n) => n >= 1 && n <= 100, LIMIT_RULE).default(20),
  cursor: z.string().max(400).optional(),
});

/** A company id as the marketplace gives it: one line, at most 500 characters (anything else was never bought). */
function companyIdOf(raw: string): string {
  if (raw.length === 0 || raw.length > 500 || !oneLine(raw)) throw new ApiError('not_found', 'no record of that company in memory');
  return raw;
}

/** One record of the tenant's memory on the wire (money as a decimal string). */
function recordView(r: Recalled) {
  return {
    companyId: r.companyId,
    name: r.name,
    industry: r.industry,
    city: r.city,
    pricePaid: formatMoney(r.pricePaid),
    currency: r.currency,
    boughtAt: r.boughtAt.toISOString(),
    ageSeconds: r.ageSeconds,
    taskId: r.taskId,
    receiptId: r.receiptId,
  };
}

/**
 * The tenant's memory (issue 11): `GET /v1/memory/companies?q=&limit=&cursor=` lists the newest record
 * of each company it bought — best match first with `q` (full-text, web-search syntax), newest first
 * without; `GET /v1/memory/companies/:companyId` is the newest record with its fields; `DELETE` forgets
 * the company: its records, the copies on its tasks and its sections in their reports (the ledger keeps
 * the money, not the data). Every call sees the key's own tenant only.
 */
export function memoryRoutes(deps: GatewayDeps) {
  const cursors = new MemoryCursors(keyringFrom(deps.config.DATA_ENCRYPTION_KEYS));
  return new Hono<AuthEnv>()
    .get('/companies', async (c) => {
      const q = validate(listQuery, c.req.query(), 'query');
      const tenant = c.get('tenant');
      const after = q.cursor === undefined ? undefined : cursors.open(q.cursor, tenant, q.q);
      const rows = await deps.repos.memory.list(tenant, { q: q.q, limit: q.limit + 1, after });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return c.json({
        data: page.map(recordView),
        ...(rows.length > q.limit && last ? { nextCursor: cursors.seal({ id: last.id, ...(q.q === undefined ? {} : { rank: last.rank }) }, tenant, q.q) } : {}),
      });
    })
    .get('/companies/:companyId', async (c) => {
      const tenant = c.get('tenant');
      const companyId = companyIdOf(c.req.param('companyId'));
      const [record, records] = await Promise.all([deps.repos.memory.newest(tenant, companyId), deps.repos.memory.count(tenant, companyId)]);
      if (!record) throw new ApiError('not_found', 'no record of that company in memory');
      return c.json({ ...recordView(record), provider: record.provider, resource: record.resource, records, fields: record.fields });
    })
    .delete('/companies/:companyId', async (c) => {
      const tenant = c.get('tenant');
      const companyId = companyIdOf(c.req.param('companyId'));
      const now = new Date();
      const forgotten = await deps.repos.memory.forget(tenant, companyId, {
        marker: ` (${escapeInline(companyId)})`,
        rewrite: (markdown) => forgetInReport(markdown, companyId, now),
      });
      if (forgotten.records + forgotten.taskCopies + forgotten.reports === 0) throw new ApiError('not_found', 'no record of that company in memory');
      deps.log.info({ tenant, records: forgotten.records, taskCopies: forgotten.taskCopies, reports: forgotten.reports }, 'memory: a company forgotten at the tenant’s request');
      return c.json({ companyId, forgotten: { records: forgotten.records, taskCopies: forgotten.taskCopies, reports: forgotten.reports }, at: now.toISOString() });
    });
}
