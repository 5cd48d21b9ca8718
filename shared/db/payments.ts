import { sql, type Kysely, type Transaction } from 'kysely';
import type { Keyring } from '../crypto/keyring.ts';
import { moneyMovedNow, type MoneyKind } from '../telemetry/metrics.ts';
import { PermanentError } from '../errors.ts';
import { formatMoney } from '../money.ts';
import { appendEvent, type TaskEventRepository } from './events.ts';
import type { CompanyOutcome } from './companies.ts';
import { claimPurchase, deliverPurchase, freshRecordJson, recalledFromJson, rememberPurchase, type Recalled } from './memory.ts';
import { PAYMENT_COLUMNS, readPurchase, type PurchaseView } from './purchase.ts';
import type { CompanyStatus, Database, LedgerKind, Payment, PaymentState } from './schema.ts';

type Trx = Transaction<Database>;

/** The idempotency key of buying one resource for one task: the same on every retry, in every process. */
export function paymentKey(taskId: string, resource: string): string {
  return `arp-${taskId}-${resource.replace(/[^A-Za-z0-9=._-]/g, '_')}`;
}

/** Whether an idempotency key is one of ours for this task (a charge under any other was not made by us). */
export function isPaymentKeyOf(taskId: string, key: string | null | undefined): boolean {
  return typeof key === 'string' && key.startsWith(`arp-${taskId}-`);
}

export type ReserveResult =
  | { kind: 'reserved'; payment: Payment; ledgerEntryIds: number[] }
  | { kind: 'existing'; payment: Payment }
  | { kind: 'over_budget'; remaining: number }
  | { kind: 'over_daily_limit'; remaining: number }
  | { kind: 'task_closed' };

export interface ReserveInput {
  taskId: string;
  companyId: string;
  tenant: string;
  resource: string;
  amount: number;
  key: string;
  /** The tenant's daily spending cap in fen (its effective policy); null or left out: none. */
  dailyCap?: number | null;
}

/**
 * What the detail stage's reservation also does (claimAndReserve): looks for a record the tenant owns
 * within `maxAgeSeconds`, and takes the tenant's claim on buying the company.
 */
export interface ClaimInput {
  /** The task's freshness window (seconds; 0: always buy, no record is looked for). */
  maxAgeSeconds: number;
  /** Reserve even when another task holds the claim (maxAge 0, or the wait for the holder is over). */
  regardless: boolean;
}

export type ClaimedReserveResult =
  | ReserveResult
  /** The tenant owns a fresh record of the company (its holder delivered): nothing was claimed or reserved. */
  | { kind: 'remembered'; record: Recalled }
  /** Another task of the tenant is buying the company: nothing was claimed or reserved. `holder` when seen. */
  | { kind: 'held'; holder: string | null };

/** A money movement that committed, with the ledger rows it wrote (for the dashboard queue). */
export interface Movement {
  payment: Payment;
  ledgerEntryIds: number[];
}

const OPEN: PaymentState[] = ['reserved', 'unknown'];

/**
 * The payment ledger. Every method is one transaction that moves money between the task's buckets
 * (reserved → captured / released, captured → refunded), books one ledger row per movement under a
 * unique event key, and only acts from the states it names — so a redelivered job or two racing
 * workers can never book a movement twice. Each movement also tells the task's story (a `payment` event)
 * in the same transaction as its ledger row: the story never shows money the books do not have, and
 * never misses money they do.
 */
export class PaymentRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly keyring: Keyring,
    private readonly events: TaskEventRepository,
  ) {}

  async get(id: number): Promise<Payment | undefined> {
    return this.db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async byKey(key: string): Promise<Payment | undefined> {
    return this.db.selectFrom('payments').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
  }

  async forTask(taskId: string): Promise<Payment[]> {
    return this.db.selectFrom('payments').selectAll().where('task_id', '=', taskId).orderBy('id').execute();
  }

  /** Payments whose money is still held but not taken: the ones a closing task must settle. */
  async openForTask(taskId: string): Promise<Payment[]> {
    return this.db.selectFrom('payments').selectAll().where('task_id', '=', taskId).where('state', 'in', OPEN).orderBy('id').execute();
  }

  /**
   * Everything a detail job reads before it acts, in one statement (purchase.ts): the task, the company,
   * the payment under `key`, the tenant's effective daily cap and freshness window, and the freshest
   * record the tenant owns of the company when it is still to be bought. Undefined: no such task.
   */
  async purchaseOf(input: { taskId: string; companyId: string; key: string; defaults: { dailyCap: number | null; maxAgeSeconds: number } }): Promise<PurchaseView | undefined> {
    return readPurchase(this.db, input);
  }

  /**
   * What a closing task must still settle, in one read: the open payments (reserved or unknown) and the
   * captured ones not refunded in full and not yet marked delivered, each with its company's status (a
   * record stored before a crash shows `bought`: delivered, not to be refunded). Oldest first. Whole rows:
   * they go on to the issuer and the refund steps, and a task that closes cleanly has none.
   */
  async toClose(taskId: string): Promise<Array<Payment & { company_status: CompanyStatus | null }>> {
    return this.db
      .selectFrom('payments as p')
      .leftJoin('companies as c', (j) => j.onRef('c.task_id', '=', 'p.task_id').onRef('c.company_id', '=', 'p.company_id'))
      .selectAll('p')
      .select('c.status as company_status')
      .where('p.task_id', '=', taskId)
      .where((eb) => eb.or([eb('p.state', 'in', OPEN), eb.and([eb('p.state', '=', 'captured'), eb('p.refunded_amount', '<', eb.ref('p.amount'))])]))
      .orderBy('p.id')
      .execute();
  }

  /**
   * Reserves `amount` of the task's budget for one resource, before anything is paid. The check and
   * the increment are one conditional UPDATE on the task row, so concurrent reservations serialise on
   * that row and `spent + reserved ≤ limit` holds under any concurrency. The payment row (with its
   * idempotency key) is written in the same transaction, first; if it already exists (a redelivery,
   * or the same job racing itself), that payment is returned as is and no budget is touched.
   *
   * The tenant's daily cap (`dailyCap`, fen; null: none) is held the same way, in the same transaction:
   * one conditional upsert of the tenant's row for the UTC day its task was created on
   * (tenant_spend_daily: reserved + captured − refunded of that day's tasks), so concurrent tasks of one
   * tenant serialise on that row and can never spend more than the cap together. A refusal by either
   * rolls back both. The day's spend is counted whether or not there is a cap, so a cap set later
   * applies to what the day has spent already.
   */
  async reserve(input: ReserveInput): Promise<ReserveResult> {
    return (await this.reserveOnce(input)) as ReserveResult;
  }

  /**
   * `reserve`, with the tenant's memory and its claim on the purchase in the same statement (the detail
   * stage's one write before paying). In the statement's one snapshot, first: a record the tenant owns
   * of the company within `maxAgeSeconds` → `remembered`, nothing claimed or reserved. Else the claim
   * (claimPurchase) is taken, and the reservation made only when the claim is ours — or `regardless`:
   * another task holding it with its purchase in flight → `held`, nothing reserved. Since a holder's
   * delivery commits its company, payment and memory record in one statement (deliverPurchase), one
   * snapshot sees either the holder in flight or its record: never neither (which would buy twice).
   * Every refusal of `reserve` is the same, and rolls back the claim with the payment row.
   */
  async claimAndReserve(input: ReserveInput & { claim: ClaimInput }): Promise<ClaimedReserveResult> {
    return this.reserveOnce(input, input.claim);
  }

  private async reserveOnce(input: ReserveInput, claim?: ClaimInput): Promise<ClaimedReserveResult> {
    const cap = input.dailyCap ?? null;
    const amountText = formatMoney(input.amount);
    // Without a claim to take, the payment row is written as it is. With one: the claim first (its row
    // lock taken before the task's and the day's, always in that order, so no two reservations deadlock),
    // and the payment row only when no record is remembered and the claim is ours (or regardless).
    const memory = claim
      ? sql`fresh as (
            select ${freshRecordJson(sql`${input.tenant}::text`, sql`${input.companyId}::text`, sql`${claim.maxAgeSeconds}`)} as record
          ), claim as (
            ${claimPurchase(sql`select ${input.tenant}::text, ${input.companyId}::text, ${input.taskId}::uuid where (select record from fresh) is null`)}
          ), claimed as (
            select count(*) as n from claim
          ), `
      : sql``;
    const gate = claim ? sql`from claimed where (select record from fresh) is null and (claimed.n > 0 or ${claim.regardless}::boolean)` : sql``;
    const answers = claim
      ? sql`, (select record from fresh) as remembered, (select n from claimed) > 0 as claimed,
          (select task_id from purchase_claims where tenant = ${input.tenant} and company_id = ${input.companyId}) as holder`
      : sql``;
    try {
      const result = await this.db.transaction().execute(async (trx): Promise<ClaimedReserveResult> => {
        // One statement for the whole reservation (data-modifying CTEs run once, in one snapshot, each
        // seeing the others only through what they return). The payment row first: a concurrent
        // reservation of the same key waits on its unique index and then finds this one, instead of
        // competing for the budget with it. Then the task's budget, then the tenant's day, each only
        // when the step before it took; the ledger row and the `payment` event only when all did.
        const { rows } = await sql<
          (Payment | { [K in keyof Payment]: null }) & { budget: boolean; day: boolean; ledger_entry_id: number | null; remembered?: unknown; claimed?: boolean; holder?: string | null }
        >`
          with ${memory}pay as (
            insert into payments (task_id, company_id, tenant, resource, amount, idempotency_key, state)
            select ${input.taskId}::uuid, ${input.companyId}::text, ${input.tenant}::text, ${input.resource}::text, ${input.amount}::bigint, ${input.key}::text, 'reserved'
            ${gate}
            on conflict (idempotency_key) do nothing
            returning ${sql.raw(PAYMENT_COLUMNS.join(', '))}
          ), t as (
            update tasks set reserved = reserved + ${input.amount}, updated_at = now(),
              event_seq = event_seq + (case when ${input.amount}::bigint > 0 then 1 else 0 end)
            where id = ${input.taskId} and exists (select 1 from pay) and status = 'running' and cancel_requested = false
              and budget_limit - (captured - refunded) - reserved >= ${input.amount}
            returning id, tenant, event_seq, ${spendDayOf(sql`created_at`)} as day
          ), d as (
            insert into tenant_spend_daily as s (tenant, day, spend)
            select t.tenant, t.day::date, ${input.amount}::bigint from t
            where ${cap}::bigint is null or ${input.amount}::bigint <= ${cap}::bigint
            on conflict (tenant, day) do update set spend = s.spend + excluded.spend
            where ${cap}::bigint is null or s.spend + excluded.spend <= ${cap}::bigint
            returning s.spend
          ), l as (
            insert into ledger_entries (task_id, payment_id, kind, amount, event_key)
            select pay.task_id, pay.id, 'reserve', pay.amount, pay.idempotency_key || ':reserve'
            from pay, t, d where pay.amount > 0
            returning id
          ), e as (
            insert into task_events (task_id, seq, kind, data)
            select t.id, t.event_seq, 'payment', ${JSON.stringify({ companyId: input.companyId, movement: 'reserve', amount: amountText })}::jsonb
            from t, d, l
          )
          select pay.*, exists (select 1 from t) as budget, exists (select 1 from d) as day, (select id from l) as ledger_entry_id${answers}
          from (select 1) as one left join pay on true`.execute(trx);
        const { budget, day, ledger_entry_id, remembered, claimed, holder, ...inserted } = rows[0]!;
        if (inserted.id === null) {
          const record = recalledFromJson(remembered);
          if (record) return { kind: 'remembered', record };
          if (claim && !claimed && !claim.regardless) return { kind: 'held', holder: holder ?? null };
          const theirs = await trx.selectFrom('payments').selectAll().where('idempotency_key', '=', input.key).executeTakeFirstOrThrow();
          return { kind: 'existing', payment: theirs };
        }
        if (!budget) {
          const t = await trx
            .selectFrom('tasks')
            .select(['status', 'cancel_requested', sql<number>`budget_limit - (captured - refunded) - reserved`.as('remaining')])
            .where('id', '=', input.taskId)
            .executeTakeFirstOrThrow();
          // Roll the payment row (and the claim) back with the refusal.
          throw new Refused(t.status !== 'running' || t.cancel_requested ? { kind: 'task_closed' } : { kind: 'over_budget', remaining: Number(t.remaining) });
        }
        if (!day) {
          const today = await trx
            .selectFrom('tenant_spend_daily')
            .innerJoin('tasks', 'tasks.tenant', 'tenant_spend_daily.tenant')
            .select('tenant_spend_daily.spend')
            .where('tasks.id', '=', input.taskId)
            .where(sql<boolean>`tenant_spend_daily.day = ${spendDayOf(sql`tasks.created_at`)}::date`)
            .executeTakeFirst();
          // An operator may have lowered the cap below what the day has spent already: nothing remains.
          throw new Refused({ kind: 'over_daily_limit', remaining: Math.max(0, cap! - Number(today?.spend ?? 0)) });
        }
        return { kind: 'reserved', payment: inserted as Payment, ledgerEntryIds: ledger_entry_id ? [Number(ledger_entry_id)] : [] };
      });
      if (result.kind === 'reserved' && result.ledgerEntryIds.length) {
        moneyMovedNow('reserve', input.amount);
        this.events.written(input.taskId);
      }
      return result;
    } catch (err) {
      if (err instanceof Refused) return err.result;
      throw err;
    }
  }

  /** The pay call's outcome is not known (timeout, 5xx): money stays reserved until the issuer tells. */
  async markUnknown(id: number, error: string): Promise<void> {
    await this.db
      .updateTable('payments')
      .set({ state: 'unknown', last_error: error, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('state', '=', 'reserved')
      .execute();
  }

  /** Notes the latest error on a payment, for operators. */
  async noteError(id: number, error: string): Promise<void> {
    await this.db.updateTable('payments').set({ last_error: error, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
  }

  /**
   * The issuer confirmed a charge: the reservation becomes captured money. Acts once, from
   * reserved/unknown only; a second call (another worker, a redelivery) finds nothing to move.
   */
  async capture(id: number, chargeId: string): Promise<Movement | undefined> {
    return this.closeOpen(id, { state: 'captured', bucket: 'captured', kind: 'capture', chargeId });
  }

  /**
   * The pay call answered with a charge and its receipt: the capture (as `capture`) and the receipt (as
   * `attachReceipt`) in one statement. A payment no longer open (captured before, whose receipt was lost
   * with a crash, and paid again for it under the same key) gets the receipt alone. Returns the payment.
   */
  async captureWithReceipt(id: number, chargeId: string, receipt: { receiptId: string; receipt: string; expiresAt: Date }): Promise<Payment> {
    const moved = await this.closeOpen(id, { state: 'captured', bucket: 'captured', kind: 'capture', chargeId, receipt: this.sealedReceipt(id, receipt) });
    return moved?.payment ?? this.attachReceipt(id, receipt);
  }

  private sealedReceipt(id: number, receipt: { receiptId: string; receipt: string; expiresAt: Date }) {
    return { receiptId: receipt.receiptId, sealed: this.keyring.seal(receipt.receipt, receiptContext(id)), expiresAt: receipt.expiresAt };
  }

  /**
   * Keeps the marketplace's receipt (the proof of payment, sealed: whoever holds it can fetch the record)
   * with the captured payment; returns the payment.
   */
  async attachReceipt(id: number, receipt: { receiptId: string; receipt: string; expiresAt: Date }): Promise<Payment> {
    const { sealed } = this.sealedReceipt(id, receipt);
    return this.db
      .updateTable('payments')
      .set({ receipt_id: receipt.receiptId, receipt: sealed, receipt_expires_at: receipt.expiresAt, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * The bought record is stored: the payment is done, and the tenant remembers the record (shared/db/
   * memory.ts) in the same statement — memory holds exactly the delivered purchases. Acts once, from
   * captured only. (`deliver` does this with the company's outcome; this is for a company settled before.)
   */
  async markDelivered(id: number): Promise<void> {
    await rememberPurchase(this.db, id);
  }

  /**
   * The record is in hand: the company's outcome (bought, with the record), the payment's delivery and
   * its memory record, in one statement (deliverPurchase) — one commit, and no instant at which the
   * company is bought and its payment not yet delivered.
   */
  async deliver(id: number, company: { taskId: string; companyId: string; outcome: CompanyOutcome & { detail: Record<string, unknown> } }): Promise<void> {
    const { detail, receiptId, error } = company.outcome;
    await deliverPurchase(this.db, id, { taskId: company.taskId, companyId: company.companyId, detail, receiptId, ...(error ? { error } : {}) });
  }

  /** Nothing was (or will be) charged: the reservation goes back to the budget. Acts once. */
  async release(id: number, reason: string): Promise<Movement | undefined> {
    return this.closeOpen(id, { state: 'released', bucket: 'released', kind: 'release', reason });
  }

  /**
   * Moves an open payment's reserved money into one bucket, in one statement (it runs for every
   * purchase): the payment's conditional state change, the task's buckets and the ledger row are
   * data-modifying CTEs, atomic together, and so is the `payment` event that tells it (its `seq` drawn
   * from the same task-row update). A concurrent second call waits on the payment row, then
   * finds it no longer open and moves nothing. A release gives the money back to the tenant's day
   * too (tenant_spend_daily); a capture keeps it spent there.
   */
  private async closeOpen(
    id: number,
    to: { state: 'captured' | 'released'; bucket: 'captured' | 'released'; kind: LedgerKind; chargeId?: string; reason?: string; receipt?: { receiptId: string; sealed: string; expiresAt: Date } },
  ): Promise<Movement | undefined> {
    const { rows } = await sql<Payment & { ledger_entry_id: number | null }>`
      with p as (
        update payments set state = ${to.state}, updated_at = now(),
          charge_id = coalesce(${to.chargeId ?? null}, charge_id), last_error = coalesce(${to.reason ?? null}, last_error),
          receipt_id = coalesce(${to.receipt?.receiptId ?? null}, receipt_id), receipt = coalesce(${to.receipt?.sealed ?? null}, receipt),
          receipt_expires_at = coalesce(${to.receipt?.expiresAt ?? null}::timestamptz, receipt_expires_at)
        where id = ${id} and state in ('reserved', 'unknown')
        returning *
      ), t as (
        update tasks set reserved = tasks.reserved - p.amount, ${sql.id(to.bucket)} = tasks.${sql.id(to.bucket)} + p.amount, updated_at = now(),
          event_seq = tasks.event_seq + (case when p.amount > 0 then 1 else 0 end)
        from p where tasks.id = p.task_id
        returning tasks.id, tasks.tenant, tasks.event_seq, ${spendDayOf(sql`tasks.created_at`)} as day
      ), e as (
        insert into task_events (task_id, seq, kind, data)
        select p.task_id, t.event_seq, 'payment', jsonb_build_object('companyId', p.company_id, 'movement', ${to.kind}::text,
          'amount', (p.amount / 100)::text || '.' || lpad((p.amount % 100)::text, 2, '0'))
        from p, t where p.amount > 0
        returning 1
      ), d as (
        update tenant_spend_daily s set spend = s.spend - p.amount
        from p, t where ${to.bucket === 'released'}::boolean and s.tenant = t.tenant and s.day = t.day::date
        returning 1
      ), l as (
        insert into ledger_entries (task_id, payment_id, kind, amount, event_key)
        select p.task_id, p.id, ${to.kind}, p.amount, p.idempotency_key || ${`:${to.kind}`} from p where p.amount > 0
        returning id
      )
      select p.*, (select id from l) as ledger_entry_id, (select count(*) from t) as tasks_moved from p`.execute(this.db);
    const row = rows[0];
    if (!row) return undefined;
    const { ledger_entry_id, tasks_moved: _t, ...payment } = row as typeof row & { tasks_moved: unknown };
    if (ledger_entry_id) {
      moneyMovedNow(to.kind as MoneyKind, payment.amount);
      this.events.written(payment.task_id);
    }
    return { payment: payment as Payment, ledgerEntryIds: ledger_entry_id ? [ledger_entry_id] : [] };
  }

  /**
   * Writes the intent of a refund (its idempotency key and amount) before the issuer is asked, so a crash
   * after the issuer refunded and before we booked it leaves a trace the next attempt replays. Only one
   * intent at a time, and only on the payment as the caller read it (`refundedAmount`): otherwise the
   * payment as it is now is returned, and the caller finishes the intent it holds and decides again.
   */
  async intendRefund(id: number, key: string, amount: number, refundedAmount: number): Promise<Payment> {
    const intended = await this.db
      .updateTable('payments')
      .set({ pending_refund_key: key, pending_refund_amount: amount, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('pending_refund_key', 'is', null)
      .where('refunded_amount', '=', refundedAmount)
      .returningAll()
      .executeTakeFirst();
    return intended ?? (await this.db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
  }

  /** Drops a refund intent the issuer refused (no money moved), if it is still the one held. */
  async dropRefundIntent(id: number, key: string): Promise<void> {
    await this.db
      .updateTable('payments')
      .set({ pending_refund_key: null, pending_refund_amount: null, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('pending_refund_key', '=', key)
      .execute();
  }

  /**
   * Books a refund the issuer made, keyed by the issuer's refund id so it is booked once, and clears the
   * intent it answers (`intentKey`) in the same step. A payment refunded in full becomes `refunded`; a
   * partial refund leaves it as it was. A refund booked before returns undefined — unless it comes as the
   * answer to the intent still pending (a lying issuer): then the intent is dropped and this throws
   * `issuer_refund_mismatch`, booking nothing.
   */
  async refund(id: number, refundId: string, amount: number, intentKey?: string): Promise<Movement | undefined> {
    const moved = await this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('payments').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
      const answered = intentKey !== undefined && current.pending_refund_key === intentKey;
      const cleared = answered ? { pending_refund_key: null, pending_refund_amount: null } : {};
      const eventKey = `${current.idempotency_key}:refund:${refundId}`;
      const seen = await trx.selectFrom('ledger_entries').select('id').where('event_key', '=', eventKey).executeTakeFirst();
      if (seen) {
        if (!answered) return undefined; // booked before, by this process's earlier try or another's
        // Booking a refund clears its intent in the same transaction, so an honest issuer never answers
        // a pending intent with a refund booked before: this answer is not a refund under the intent's
        // key. Nothing is booked; the intent is dropped (as when the issuer refuses) and the caller told.
        await trx.updateTable('payments').set(cleared).where('id', '=', id).execute();
        return 'booked_before' as const;
      }
      const refunded = current.refunded_amount + amount;
      const payment = await trx
        .updateTable('payments')
        .set({ refunded_amount: refunded, state: refunded >= current.amount ? 'refunded' : current.state, ...cleared, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const task = await trx
        .updateTable('tasks')
        .set({ refunded: sql<number>`refunded + ${amount}`, updated_at: sql<Date>`now()` })
        .where('id', '=', payment.task_id)
        .returning(['tenant', spendDay])
        .executeTakeFirstOrThrow();
      // Refunded money no longer counts against the day its task was created on.
      await trx
        .updateTable('tenant_spend_daily')
        .set({ spend: sql<number>`spend - ${amount}` })
        .where('tenant', '=', task.tenant)
        .where('day', '=', task.day)
        .execute();
      const entry = await book(trx, payment, 'refund', amount, eventKey);
      if (entry) await appendEvent(trx, payment.task_id, 'payment', { companyId: payment.company_id, movement: 'refund', amount: formatMoney(amount) });
      return { payment, ledgerEntryIds: entry ? [entry] : [] };
    });
    if (moved === 'booked_before') {
      throw new PermanentError('issuer_refund_mismatch', `the issuer answered a new refund of payment ${id} with a refund booked before`);
    }
    if (moved?.ledgerEntryIds.length) {
      moneyMovedNow('refund', amount);
      this.events.written(moved.payment.task_id);
    }
    return moved;
  }

  /** A payment's receipt, opened — for the detail stage that fetches with it, nothing else. */
  receiptOf(payment: Pick<Payment, 'id' | 'receipt'>): string | null {
    return payment.receipt === null ? null : this.keyring.open(payment.receipt, receiptContext(payment.id));
  }

  /**
   * Deletes receipts past the time we trust them (a receipt we would no longer use is only a liability),
   * from payments that are done; returns how many. Their receipt ids stay, for the audit trail.
   */
  async purgeExpiredReceipts(): Promise<number> {
    const result = await this.db
      .updateTable('payments')
      .set({ receipt: null, updated_at: sql<Date>`now()` })
      .where('receipt', 'is not', null)
      .where('receipt_expires_at', '<', sql<Date>`now()`)
      .where('state', 'in', ['delivered', 'refunded', 'released'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Records that a task got its record from the tenant's memory: a zero-amount payment, delivered,
   * linked to the purchase the record came from (no money moves). With `record`, the same statement
   * settles the task's company `reused` with it (from `found` only), so the company and the link are
   * written together: one commit, and a retry finds both or neither.
   */
  async recordReuse(input: {
    taskId: string;
    companyId: string;
    tenant: string;
    resource: string;
    key: string;
    source: Pick<Payment, 'id' | 'receipt_id'>;
    record?: Record<string, unknown>;
  }): Promise<Payment> {
    const settle = input.record
      ? sql`, settled as (
          update companies set status = 'reused', detail = ${JSON.stringify(input.record)}::jsonb, receipt_id = ${input.source.receipt_id}::text, updated_at = now()
          where task_id = ${input.taskId} and company_id = ${input.companyId} and status = 'found'
        )`
      : sql``;
    const { rows } = await sql<Payment>`
      with linked as (
        insert into payments (task_id, company_id, tenant, resource, amount, idempotency_key, state, receipt_id, reused_payment_id)
        values (${input.taskId}, ${input.companyId}, ${input.tenant}, ${input.resource}, 0, ${input.key}, 'delivered', ${input.source.receipt_id}, ${input.source.id})
        on conflict (idempotency_key) do nothing
        returning ${sql.raw(PAYMENT_COLUMNS.join(', '))}
      )${settle}
      select * from linked`.execute(this.db);
    return rows[0] ?? (await this.byKey(input.key))!;
  }

  /** Every ledger row of a task, oldest first. */
  async ledger(taskId: string) {
    return this.db.selectFrom('ledger_entries').selectAll().where('task_id', '=', taskId).orderBy('id').execute();
  }

  /** Ledger rows the dashboard has not counted yet, older than `olderThanMs` (their job may be lost). */
  async unappliedLedger(olderThanMs: number, limit = 500): Promise<number[]> {
    const rows = await this.db
      .selectFrom('ledger_entries as l')
      .leftJoin('dashboard_applied as d', 'd.ledger_entry_id', 'l.id')
      .select('l.id')
      .where('d.ledger_entry_id', 'is', null)
      .where('l.created_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
      .orderBy('l.id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }
}

/** The UTC day (as 'YYYY-MM-DD') of a task's creation: the day its spend counts against. */
const spendDayOf = (createdAt: ReturnType<typeof sql>) => sql<string>`to_char(${createdAt} at time zone 'UTC', 'YYYY-MM-DD')`;
const spendDay = spendDayOf(sql`created_at`).as('day');

/** What a payment's sealed receipt is bound to: this column of this row. */
export const receiptContext = (paymentId: number) => `payments.receipt:${paymentId}`;

/** A refused reservation, thrown to roll its transaction back. */
class Refused extends Error {
  constructor(readonly result: ReserveResult) {
    super(result.kind);
  }
}

async function book(trx: Trx, payment: Payment, kind: LedgerKind, amount: number, eventKey: string): Promise<number | undefined> {
  if (amount <= 0) return undefined;
  const row = await trx
    .insertInto('ledger_entries')
    .values({ task_id: payment.task_id, payment_id: payment.id, kind, amount, event_key: eventKey })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
