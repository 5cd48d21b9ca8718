import { PermanentError, TransientError } from '../../shared/errors.ts';
import { paymentKey, type Payment } from '../../shared/db/index.ts';
import type { PurchaseCompany as Company, PurchaseTask as Task } from '../../shared/db/purchase.ts';
import { formatMoney } from '../../shared/money.ts';
import type { JobContext, Processor, StageDeps } from '../deps.ts';
import type { Payload } from '../payloads.ts';
import { chargeAtIssuer, finishPendingRefund, refundPayment } from '../settle.ts';
import { judgeRecord } from './completeness.ts';
import { reserveOrReuse, reuse } from './memory.ts';
import { refuseOffer, refuseReceipt } from './terms.ts';

/** A receipt's life at the marketplace is 24 h (unless it says otherwise); we stop trusting it an hour early. */
const RECEIPT_LIFE_MS = 24 * 3600 * 1000;
const RECEIPT_MARGIN_MS = 3600 * 1000;

type Outcome = { outcome: string; companyId: string };

/**
 * Detail: buys one company's record — unless the tenant's memory has it (memory.ts). 402 → reserve the
 * price in Postgres → pay with the idempotency key → book the capture → fetch with the receipt → store
 * (and remember, as the payment is marked delivered). Each step is resumable from the payment's
 * state, so a retry after a crash at any point continues where the last attempt stopped and never
 * pays twice. Failures the company cannot recover from settle the company (and the money) and
 * complete the job, so the report still runs.
 *
 * A fresh purchase that is delivered costs four statements, three of them commits: one read of all the
 * job needs, the claim with the reservation, the capture with the receipt, the delivery.
 */
export const processDetail: Processor<Payload<'detail'>, Outcome> = async ({ taskId, companyId }, deps, ctx) => {
  const resource = deps.providers.marketplace.resourceOf(companyId);
  const key = paymentKey(taskId, resource);
  const view = await deps.repos.payments.purchaseOf({
    taskId,
    companyId,
    key,
    defaults: { dailyCap: deps.policyDefaults.dailySpend, maxAgeSeconds: deps.memory.maxAgeSeconds },
  });
  const company = view?.company;
  if (!view || !company) return { outcome: 'missing', companyId };
  const task = view.task;
  let payment = view.payment;
  if (!payment) {
    if (company.status !== 'found') return { outcome: company.status, companyId };
    if (task.status !== 'running' || task.cancel_requested) return skip(deps, company, 'task_closed', 'the task ended before this company was bought');
    // Memory first: a record the tenant owns is used at no cost, without asking the marketplace.
    if (view.remembered) return reuse(deps, task, company, { resource, key }, view.remembered);
    // The probe comes before the claim (taken with the reservation): two tasks of the tenant may both
    // probe the same company, which is fine — a probe is a free, unpaid GET that moves no money and
    // holds nothing; only the one whose statement takes the claim reserves, the other waits for it.
    const probe = await deps.providers.marketplace.probe(companyId, ctx.signal).catch((err) => settleProbeError(deps, company, err));
    if ('outcome' in probe) return probe;
    if (probe.kind === 'free') {
      await deps.repos.companies.settle(taskId, companyId, 'bought', { detail: probe.detail });
      return { outcome: 'free', companyId };
    }
    // The listing binds the purchase: a 402 asking more, or for another resource, is not paid.
    const refused = refuseOffer({ price: company.price, resource }, probe);
    if (refused) return skip(deps, company, refused.code, refused.message);
    // The tenant's daily cap is held by the reservation itself, atomically with the task's budget.
    const reserved = await reserveOrReuse(deps, { ...view, company }, { resource, key, price: probe.price }, ctx);
    if ('outcome' in reserved) return reserved;
    if (reserved.kind === 'over_budget') {
      return skip(deps, company, 'over_budget', `price ${formatMoney(probe.price)} exceeds the remaining budget ${formatMoney(reserved.remaining)}`);
    }
    if (reserved.kind === 'over_daily_limit') {
      return skip(deps, company, 'spending_limit_exceeded', `price ${formatMoney(probe.price)} exceeds what remains of the tenant's daily spending limit (${formatMoney(reserved.remaining)})`);
    }
    if (reserved.kind === 'task_closed') return skip(deps, company, 'task_closed', 'the task ended before this company was bought');
    payment = reserved.payment;
  }
  return advance(deps, task, company, payment, ctx);
};

/** Moves a payment on from whatever state the last attempt left it in. */
async function advance(deps: StageDeps, task: Task, company: Company, payment: Payment, ctx: JobContext): Promise<Outcome> {
  const companyId = company.company_id;
  // A refund the last attempt asked for and did not book is finished first: what is decided next
  // (a record's refund due, a refund in full) counts it.
  payment = await finishPendingRefund(deps, payment, ctx.signal);
  switch (payment.state) {
    case 'delivered':
      // Nothing left to do: the record was stored, and the company settled, before the payment was marked delivered.
      return { outcome: payment.reused_payment_id === null ? 'bought' : 'reused', companyId };
    case 'released':
      await deps.repos.companies.settle(task.id, companyId, 'failed', { error: { code: 'not_paid', message: payment.last_error ?? 'payment released' } });
      return { outcome: 'released', companyId };
    case 'refunded':
      await deps.repos.companies.settle(task.id, companyId, 'refunded', { error: { code: 'refunded', message: payment.last_error ?? 'refunded' } }, ['found', 'failed']);
      return { outcome: 'refunded', companyId };
    case 'reserved':
    case 'unknown':
    case 'captured':
      return payAndFetch(deps, task, company, payment, ctx);
  }
}

async function payAndFetch(deps: StageDeps, task: Task, company: Company, payment: Payment, ctx: JobContext): Promise<Outcome> {
  const companyId = company.company_id;
  const tokenId = deps.repos.tasks.tokenOf(task);
  if (!tokenId) throw new PermanentError('no_token', `task ${task.id} has no payment token`);
  // 1. Pay (or, for a payment already captured, replay the pay call with its key to get the receipt).
  let receipt = deps.repos.payments.receiptOf(payment) ?? undefined;
  if (!receipt) {
    try {
      const r = await deps.providers.marketplace.pay(
        { tokenId, amount: formatMoney(payment.amount), resource: payment.resource, idempotencyKey: payment.idempotency_key },
        ctx.signal,
      );
      // A receipt for another purchase proves nothing: the issuer's record for our key decides what
      // was charged (payFailed), and it is refunded.
      const mismatch = refuseReceipt({ price: payment.amount, resource: payment.resource }, { price: r.amount, resource: r.resource });
      if (mismatch) throw new PermanentError(mismatch.code, mismatch.message);
      payment = await deps.repos.payments.captureWithReceipt(payment.id, r.chargeId, {
        receiptId: r.receiptId,
        receipt: r.receipt,
        expiresAt: new Date((r.expiresAt?.getTime() ?? Date.now() + RECEIPT_LIFE_MS) - RECEIPT_MARGIN_MS),
      });
      receipt = r.receipt;
    } catch (err) {
      return payFailed(deps, task, tokenId, company, payment, err, ctx);
    }
  }
  // 2. Fetch the record with the receipt; the receipt stays valid for retries, so no second charge.
  try {
    const detail = await deps.providers.marketplace.fetchDetail(companyId, receipt, ctx.signal);
    const judged = judgeRecord(detail, payment.amount);
    if (judged.missingIdentity.length) throw new PermanentError('bad_data', `the record lacks ${judged.missingIdentity.join(', ')}`);
    // An incomplete record is kept, and what is missing is refunded (partially). The target is the
    // total refund for this record, so a retry after a crash refunds only what is still due.
    if (judged.refundDue > payment.refunded_amount) {
      await deps.repos.payments.noteError(payment.id, `incomplete record: no ${judged.missingSections.join(', ')}`);
      await refundPayment(deps, payment, judged.refundDue, ctx.signal);
    }
    await deps.repos.payments.deliver(payment.id, {
      taskId: task.id,
      companyId,
      outcome: {
        detail,
        receiptId: payment.receipt_id,
        ...(judged.missingSections.length
          ? { error: { code: 'incomplete_record', message: `missing ${judged.missingSections.join(', ')}; ${formatMoney(judged.refundDue)} refunded` } }
          : {}),
      },
    });
    return { outcome: 'bought', companyId };
  } catch (err) {
    if (err instanceof PermanentError || ctx.isFinalAttempt) {
      // Charged but not delivered: the money goes back (what is left of it: a partial refund may
      // already have been made in this attempt, so the payment is read again).
      await deps.repos.payments.noteError(payment.id, (err as Error).message);
      await refundPayment(deps, (await deps.repos.payments.get(payment.id))!, undefined, ctx.signal);
      await deps.repos.companies.settle(task.id, companyId, 'refunded', { receiptId: payment.receipt_id, error: { code: errorCode(err), message: `${(err as Error).message}; refunded` } });
      return { outcome: 'refunded', companyId };
    }
    throw err;
  }
}

/**
 * The pay call did not give a receipt. Whatever it said, the issuer's books tell whether money moved:
 * a charge under our key is booked as captured; then either we retry for the receipt (transient) or
 * refund (permanent, or no retries left). No charge: retry (transient) or release — except after a call
 * that got no answer, which may still land: that money stays held until the task closes its token.
 */
async function payFailed(deps: StageDeps, task: Task, tokenId: string, company: Company, payment: Payment, err: unknown, ctx: JobContext): Promise<Outcome> {
  const companyId = company.company_id;
  const message = (err as Error).message;
  if (!(err instanceof PermanentError) && !(err instanceof TransientError)) throw err;
  if (err instanceof TransientError) await deps.repos.payments.markUnknown(payment.id, message);
  else await deps.repos.payments.noteError(payment.id, message);
  const charge = await chargeAtIssuer(deps, tokenId, payment, ctx.signal);
  if (charge) await deps.repos.payments.capture(payment.id, charge.id);
  const giveUp = err instanceof PermanentError || ctx.isFinalAttempt;
  if (!giveUp) throw err;
  if (charge) {
    const captured = (await deps.repos.payments.get(payment.id))!;
    await refundPayment(deps, captured, undefined, ctx.signal);
    await deps.repos.companies.settle(task.id, companyId, 'refunded', { error: { code: errorCode(err), message: `${message}; the charge was refunded` } });
    return { outcome: 'refunded', companyId };
  }
  if (mayStillLand(err)) {
    // No answer is not a refusal: the marketplace may still charge after we stopped waiting. The money
    // stays held (unknown) until the task closes its token; then the issuer's record settles it.
    await deps.repos.companies.settle(task.id, companyId, 'failed', { error: { code: errorCode(err), message } });
    return { outcome: 'failed', companyId };
  }
  await deps.repos.payments.release(payment.id, message);
  // The token outlived its time (TOKEN_TTL_SECONDS): nothing more can be bought, nothing went wrong.
  if (errorCode(err) === 'token_expired') return skip(deps, company, 'token_expired', 'the payment token expired before this company was bought');
  await deps.repos.companies.settle(task.id, companyId, 'failed', { error: { code: errorCode(err), message } });
  return { outcome: 'failed', companyId };
}

async function settleProbeError(deps: StageDeps, company: Company, err: unknown): Promise<Outcome> {
  if (err instanceof PermanentError) {
    await deps.repos.companies.settle(company.task_id, company.company_id, 'failed', { error: { code: err.code, message: err.message } });
    return { outcome: 'failed', companyId: company.company_id };
  }
  throw err;
}

async function skip(deps: StageDeps, company: Company, code: string, message: string): Promise<Outcome> {
  await deps.repos.companies.settle(company.task_id, company.company_id, 'skipped', { error: { code, message } });
  return { outcome: 'skipped', companyId: company.company_id };
}

/** The pay call got no answer (timed out, or the connection failed): it may still be carried out. */
function mayStillLand(err: unknown): boolean {
  return err instanceof TransientError && (err.code === 'timeout' || err.code === 'unreachable');
}

function errorCode(err: unknown): string {
  return err instanceof PermanentError || err instanceof TransientError ? err.code : 'internal_error';
}
