import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { csvLine } from '../../../shared/csv.ts';
import type { LedgerFilter, LedgerMovement } from '../../../shared/db/ledger-export.ts';
import type { Logger } from '../../../shared/log.ts';
import { formatMoney } from '../../../shared/money.ts';
import type { AdminEnv } from '../admin-auth.ts';
import { checkRange, TENANT_RULE, timeRange } from '../admin-params.ts';
import type { GatewayDeps } from '../deps.ts';
import { validate } from '../validate.ts';

const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** The query of GET /admin/ledger.csv: a booking-time range and one tenant, each optional. */
export const ledgerQuery = z.strictObject({
  ...timeRange,
  tenant: z.preprocess(blankIsUnset, z.string().regex(TENANT_RULE, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit').optional()),
});

/** The columns, in order. */
export const LEDGER_COLUMNS = ['booked_at', 'tenant', 'task_id', 'company_id', 'kind', 'amount', 'currency', 'payment_key', 'charge_id', 'refund_id', 'ledger_id'] as const;

/** Rows per query: one page is what the export holds at a time, whatever the period holds. */
export const EXPORT_PAGE_ROWS = 1_000;

const row = (m: LedgerMovement) => csvLine([m.bookedAt.toISOString(), m.tenant, m.taskId, m.companyId, m.kind, formatMoney(m.amount), m.currency, m.paymentKey, m.chargeId, m.refundId, m.id]);

/**
 * A CSV body read page by page as the client takes it: the stream asks for the next page only when the
 * one before has been written out (ReadableStream pull; the HTTP server waits for the socket to
 * drain), so memory holds about one page, and a client that goes away stops the reading.
 */
export function csvBody(pages: AsyncGenerator<LedgerMovement[]>, log: Logger): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(csvLine(LEDGER_COLUMNS)));
          return;
        }
        try {
          const next = await pages.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value.map(row).join('')));
        } catch (err) {
          // The answer is cut short (no final chunk), so the client sees the export is incomplete.
          log.error({ err: (err as Error).message }, 'ledger export stopped');
          controller.error(err);
        }
      },
      async cancel() {
        await pages.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

/**
 * GET /admin/ledger.csv?from=&to=&tenant= (mounted at `/admin`; either admin login — finance reads
 * with the read-only one): every ledger movement (reserve, capture, release, refund) booked at
 * `from ≤ t < to`, in booking order, streamed as CSV. Amounts are positive decimal strings; what was
 * spent is the captures less the refunds. The period's bounds are read before the answer starts, so
 * a database that is down is a 503, not a broken file.
 */
export function adminLedgerRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>) {
  return new Hono<AdminEnv>({ strict: false }).get('/ledger.csv', auth, async (c) => {
    const q = validate(ledgerQuery, c.req.query(), 'query');
    checkRange(q);
    const filter: LedgerFilter = { from: q.from, to: q.to, tenant: q.tenant };
    const range = await deps.repos.ledgerExport.bounds(filter);
    const name = ['ledger', q.tenant, q.from?.toISOString().slice(0, 10), q.to?.toISOString().slice(0, 10)].filter(Boolean).join('_');
    return c.body(csvBody(deps.repos.ledgerExport.pages(filter, range, EXPORT_PAGE_ROWS), deps.log), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}.csv"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
  });
}
