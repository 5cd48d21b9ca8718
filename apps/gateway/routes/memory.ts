import { createRoute, z } from '@hono/zod-openapi';
import { keyringFrom } from '../../../shared/crypto/keyring.ts';
import type { Recalled } from '../../../shared/db/index.ts';
import { ApiError } from '../../../shared/errors.ts';
import { escapeInline } from '../../../shared/markdown/escape.ts';
import { formatMoney } from '../../../shared/money.ts';
import { forgetInReport } from '../../../queues/report/forget.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { Currency, Money, pageLimit, Timestamp } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { ONE_LINE, oneLine } from '../validate.ts';
import { MemoryCursors } from './memory-cursor.ts';

export const MemoryListQuery = z.object({
  q: z
    .string()
    .refine(oneLine, ONE_LINE)
    .trim()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .optional()
    .openapi({ param: { name: 'q', in: 'query', description: 'Full-text query (web-search syntax); best match first. Without it, newest first.' }, example: 'solid-state battery' }),
  limit: pageLimit('records'),
  cursor: z.string().max(400).optional().openapi({ param: { name: 'cursor', in: 'query', description: 'The `nextCursor` of the page before (valid for the same tenant and query only).' } }),
});

const CompanyIdParams = z.object({
  companyId: z.string().openapi({ param: { name: 'companyId', in: 'path', description: "The marketplace's company id." }, example: 'co_0042' }),
});

/** One record of the tenant's memory. */
export const MemoryRecord = z
  .strictObject({
    companyId: z.string(),
    name: z.string(),
    industry: z.string(),
    city: z.string(),
    pricePaid: Money,
    currency: Currency,
    boughtAt: Timestamp,
    ageSeconds: z.number().int().min(0),
    taskId: z.uuid(),
    receiptId: z.string().nullable(),
  })
  .openapi('MemoryRecord');

const MemoryPage = z.strictObject({ data: z.array(MemoryRecord), nextCursor: z.string().optional() }).openapi('MemoryPage');

const MemoryRecordWithFields = z
  .strictObject({
    ...MemoryRecord.shape,
    provider: z.string(),
    resource: z.string(),
    records: z.number().int().min(1).openapi({ description: 'How many purchases of this company the tenant holds.' }),
    fields: z.record(z.string(), z.unknown()).openapi({ description: "The record's fields as bought (untrusted provider data)." }),
  })
  .openapi('MemoryRecordWithFields');

const Forgotten = z
  .strictObject({
    companyId: z.string(),
    forgotten: z.strictObject({ records: z.number().int().min(0), taskCopies: z.number().int().min(0), reports: z.number().int().min(0) }),
    at: Timestamp,
  })
  .openapi('Forgotten');

const memoryResponses = (...codes: Parameters<typeof problemResponses>) => problemResponses(...V1_PROBLEMS, ...codes);

export const listMemory = createRoute({
  method: 'get',
  path: '/memory/companies',
  operationId: 'listMemory',
  tags: ['memory'],
  summary: "List the records the tenant owns",
  description: 'The newest record of each company the tenant bought: best match first with `q`, newest first without.',
  request: { query: MemoryListQuery },
  responses: { 200: { description: 'A page of records.', content: { 'application/json': { schema: MemoryPage } } }, ...memoryResponses('validation_failed') },
});

export const getMemoryRecord = createRoute({
  method: 'get',
  path: '/memory/companies/{companyId}',
  operationId: 'getMemoryRecord',
  tags: ['memory'],
  summary: "A company's newest record, with its fields",
  request: { params: CompanyIdParams },
  responses: { 200: { description: 'The record.', content: { 'application/json': { schema: MemoryRecordWithFields } } }, ...memoryResponses('not_found') },
});

export const forgetMemoryRecord = createRoute({
  method: 'delete',
  path: '/memory/companies/{companyId}',
  operationId: 'forgetMemoryRecord',
  tags: ['memory'],
  summary: 'Forget a company',
  description: "Removes the tenant's records of the company, the copies on its tasks and its sections in their reports, in one transaction. The ledger keeps the money, not the data.",
  request: { params: CompanyIdParams },
  responses: { 200: { description: 'What was removed.', content: { 'application/json': { schema: Forgotten } } }, ...memoryResponses('not_found') },
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
    currency: 'CNY' as const,
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
  return contractRoutes<AuthEnv>()
    .openapi(listMemory, async (c) => {
      const q = c.req.valid('query');
      const tenant = c.get('tenant');
      const after = q.cursor === undefined ? undefined : cursors.open(q.cursor, tenant, q.q);
      const rows = await deps.repos.memory.list(tenant, { q: q.q, limit: q.limit + 1, after });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return c.json(
        {
          data: page.map(recordView),
          ...(rows.length > q.limit && last ? { nextCursor: cursors.seal({ id: last.id, ...(q.q === undefined ? {} : { rank: last.rank }) }, tenant, q.q) } : {}),
        },
        200,
      );
    })
    .openapi(getMemoryRecord, async (c) => {
      const tenant = c.get('tenant');
      const companyId = companyIdOf(c.req.valid('param').companyId);
      const [record, records] = await Promise.all([deps.repos.memory.newest(tenant, companyId), deps.repos.memory.count(tenant, companyId)]);
      if (!record) throw new ApiError('not_found', 'no record of that company in memory');
      return c.json({ ...recordView(record), provider: record.provider, resource: record.resource, records, fields: record.fields }, 200);
    })
    .openapi(forgetMemoryRecord, async (c) => {
      const tenant = c.get('tenant');
      const companyId = companyIdOf(c.req.valid('param').companyId);
      const now = new Date();
      const forgotten = await deps.repos.memory.forget(tenant, companyId, {
        marker: ` (${escapeInline(companyId)})`,
        rewrite: (markdown) => forgetInReport(markdown, companyId, now),
      });
      if (forgotten.records + forgotten.taskCopies + forgotten.reports === 0) throw new ApiError('not_found', 'no record of that company in memory');
      deps.log.info({ tenant, records: forgotten.records, taskCopies: forgotten.taskCopies, reports: forgotten.reports }, 'memory: a company forgotten at the tenant’s request');
      return c.json({ companyId, forgotten: { records: forgotten.records, taskCopies: forgotten.taskCopies, reports: forgotten.reports }, at: now.toISOString() }, 200);
    });
}
