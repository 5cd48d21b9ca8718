import { sql, type Kysely } from 'kysely';
import type { Database, LedgerKind } from './schema.ts';

/** One ledger movement as finance reads it. Amount in fen (always positive; `kind` says which way). */
export interface LedgerMovement {
  id: number;
  bookedAt: Date;
  tenant: string;
  taskId: string;
  companyId: string;
  kind: LedgerKind;
  amount: number;
  currency: string;
  paymentKey: string;
  chargeId: string | null;
  refundId: string | null;
}

/** Which movements: booked at `from ≤ t < to` (either open), of one tenant or all. */
export interface LedgerFilter {
  from?: Date;
  to?: Date;
  tenant?: string;
}

/**
 * The ledger for finance (issue 8): every movement in booking order (the ledger's own sequence), read
 * in pages by keyset on that sequence, so an export of a million rows holds one page at a time and
 * each query is short (no transaction or cursor held open while a slow client reads).
 */
export class LedgerExportRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The first and last ledger id the period can hold (index-only on (created_at, id)), so paging
   * starts at the period and stops at its end instead of walking the whole ledger; undefined when the
   * period holds nothing.
   */
  async bounds(filter: LedgerFilter): Promise<{ first: number; last: number } | undefined> {
    let q = this.db.selectFrom('ledger_entries').select([sql<number | null>`min(id)`.as('first'), sql<number | null>`max(id)`.as('last')]);
    if (filter.from) q = q.where('created_at', '>=', filter.from);
    if (filter.to) q = q.where('created_at', '<', filter.to);
    const row = await q.executeTakeFirstOrThrow();
    return row.first === null || row.last === null ? undefined : { first: Number(row.first), last: Number(row.last) };
  }

  /** Up to `limit` movements with `afterId < id ≤ lastId` that match the filter, in booking order. */
  async page(filter: LedgerFilter, afterId: number, lastId: number, limit: number): Promise<LedgerMovement[]> {
    let q = this.db
      .selectFrom('ledger_entries as l')
      .innerJoin('payments as p', 'p.id', 'l.payment_id')
      .innerJoin('tasks as t', 't.id', 'l.task_id')
      .select(['l.id', 'l.created_at', 't.tenant', 'l.task_id', 'p.company_id', 'l.kind', 'l.amount', 't.currency', 'p.idempotency_key', 'p.charge_id', 'l.event_key'])
      .where('l.id', '>', afterId)
      .where('l.id', '<=', lastId);
    if (filter.from) q = q.where('l.created_at', '>=', filter.from);
    if (filter.to) q = q.where('l.created_at', '<', filter.to);
    if (filter.tenant !== undefined) q = q.where('t.tenant', '=', filter.tenant);
    const rows = await q.orderBy('l.id').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      bookedAt: r.created_at,
      tenant: r.tenant,
      taskId: r.task_id,
      companyId: r.company_id,
      kind: r.kind,
      amount: Number(r.amount),
      currency: r.currency,
      paymentKey: r.idempotency_key,
      chargeId: r.charge_id,
      refundId: refundIdOf(r.event_key, r.idempotency_key),
    }));
  }

  /**
   * Every matching movement within `range` (from bounds()), page by page: each page one short query,
   * and nothing read before it is asked for.
   */
  async *pages(filter: LedgerFilter, range: { first: number; last: number } | undefined, pageSize = 1000): AsyncGenerator<LedgerMovement[]> {
    if (!range) return;
    let after = range.first - 1;
    for (;;) {
      const page = await this.page(filter, after, range.last, pageSize);
      if (page.length) yield page;
      if (page.length < pageSize) return;
      after = page.at(-1)!.id;
    }
  }
}

/** A refund's ledger event key is `<payment key>:refund:<issuer refund id>` (payments.ts): the id, or null for other kinds. */
function refundIdOf(eventKey: string, paymentKey: string): string | null {
  const prefix = `${paymentKey}:refund:`;
  return eventKey.startsWith(prefix) ? eventKey.slice(prefix.length) : null;
}
