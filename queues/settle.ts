import { PermanentError } from '../shared/errors.ts';
import { isPaymentKeyOf, type Payment, type Task } from '../shared/db/index.ts';
import { formatMoney } from '../shared/money.ts';
import type { IssuerCharge } from '../shared/providers/index.ts';
import type { StageDeps } from './deps.ts';
import { announceEnd } from './webhook/processor.ts';

/**
 * Asks the issuer whether a charge exists for this payment's idempotency key. This is the only way
 * an `unknown` payment is resolved: the issuer's books decide, never a guess.
 */
export async function chargeAtIssuer(deps: StageDeps, tokenId: string, payment: Payment, signal?: AbortSignal): Promise<IssuerCharge | undefined> {
  const token = await deps.providers.issuer.getToken(tokenId, signal);
  return token.charges.find((c) => c.idempotencyKey === payment.idempotency_key);
}

/**
 * Settles a payment whose outcome is open (reserved or unknown) by the issuer's record: a charge
 * under its key → captured; none → released. Only safe when no pay call for it can still land,
 * i.e. the token is closed or the caller is the only one paying.
 */
export async function settleByIssuer(deps: StageDeps, tokenId: string | null, payment: Payment, reason: string, signal?: AbortSignal): Promise<'captured' | 'released'> {
  const charge = tokenId ? await chargeAtIssuer(deps, tokenId, payment, signal) : undefined;
  if (charge) {
    await deps.repos.payments.capture(payment.id, charge.id);
    return 'captured';
  }
  await deps.repos.payments.release(payment.id, reason);
  return 'released';
}

/**
 * Refunds a captured payment until `target` of it is refunded in all (by default all of it), and books it.
 * Each refund is written as an intent on the payment before the issuer is asked (idempotency key derived
 * from the payment), so a retry after a crash replays the same refund instead of asking for another or
 * forgetting it. Returns the payment as it is afterwards.
 */
export async function refundPayment(deps: StageDeps, payment: Payment, target: number = payment.amount, signal?: AbortSignal): Promise<Payment> {
  if (!payment.charge_id) throw new PermanentError('no_charge', `payment ${payment.id} has no charge to refund`);
  // Each turn finishes the intent the payment holds (ours from the turn before, or another process's),
  // then decides again from what is booked; it ends once the target is reached.
  for (let current = payment; ; ) {
    current = await finishPendingRefund(deps, current, signal);
    const want = Math.min(target, current.amount) - current.refunded_amount;
    if (want <= 0) return current;
    const key = `${current.idempotency_key}-refund-${current.refunded_amount}-${want}`;
    current = await deps.repos.payments.intendRefund(current.id, key, want, current.refunded_amount);
  }
}

/**
 * Carries out a refund intent an attempt wrote and may not have finished: asks the issuer again under the
 * same key (it answers with the refund it made, or makes it now) and books it. An intent the issuer
 * refuses moved no money and is dropped. Returns the payment as it is afterwards.
 */
export async function finishPendingRefund(deps: StageDeps, payment: Payment, signal?: AbortSignal): Promise<Payment> {
  const key = payment.pending_refund_key;
  if (key === null || payment.pending_refund_amount === null) return payment;
  if (!payment.charge_id) throw new PermanentError('no_charge', `payment ${payment.id} has no charge to refund`);
  let refund;
  try {
    refund = await deps.providers.issuer.refund(payment.charge_id, formatMoney(payment.pending_refund_amount), key, signal);
  } catch (err) {
    if (err instanceof PermanentError) await deps.repos.payments.dropRefundIntent(payment.id, key);
    throw err;
  }
  // An answer for another charge, or another amount than the intent asked, is not the refund asked for
  // under this key (an honest issuer refunds exactly that, or refuses): nothing is booked from it.
  if (refund.chargeId !== payment.charge_id || refund.amount !== payment.pending_refund_amount) {
    await deps.repos.payments.dropRefundIntent(payment.id, key);
    throw new PermanentError('issuer_refund_mismatch', `the issuer answered the refund of payment ${payment.id} with a refund of another charge or amount`);
  }
  const moved = await deps.repos.payments.refund(payment.id, refund.id, refund.amount, key);
  if (!moved) return (await deps.repos.payments.get(payment.id))!; // booked before: read it as it is now
  return moved.payment;
}

/** Why a company chosen to buy and never bought is skipped when its task ends. */
export const TASK_ENDED = { code: 'task_ended', message: 'the task ended before this company was bought' };

/** A charge on the task's token under a key that is not ours (fen). */
export type ForeignCharge = { chargeId: string; amount: number };

/**
 * Closes a task's money: closes the token first (so no charge can land afterwards), then settles
 * every open payment by the issuer's record, refunds what was charged but never delivered, and
 * marks companies that never got an outcome as skipped. Safe to run again at any point.
 */
export async function closeTaskMoney(deps: StageDeps, taskId: string, signal?: AbortSignal): Promise<void> {
  const task = await deps.repos.tasks.get(taskId);
  if (!task) return;
  const foreign = await settleTaskMoney(deps, task, signal);
  await deps.repos.companies.skipUnsettled(taskId, TASK_ENDED);
  if (foreign) await deps.repos.tasks.noteForeignCharges(taskId, foreign);
}

/**
 * The money-moving part of closing a task (`closeTaskMoney` without its last two writes, which the report
 * stage makes in the statement that stores the report): the token closed first, every open payment settled
 * by the issuer's record, every charge never delivered refunded (one stored before a crash is marked
 * delivered instead). Returns the charges on the closed token that are not ours, to be noted; null when
 * the task has no token. A task that closes cleanly costs one read.
 */
export async function settleTaskMoney(deps: StageDeps, task: Pick<Task, 'id' | 'token_id'>, signal?: AbortSignal): Promise<ForeignCharge[] | null> {
  const taskId = task.id;
  const tokenId = deps.repos.tasks.tokenOf(task);
  if (tokenId) await deps.providers.issuer.close(tokenId, signal);
  let due = await deps.repos.payments.toClose(taskId);
  const open = due.filter((p) => p.state === 'reserved' || p.state === 'unknown');
  for (const payment of open) {
    await settleByIssuer(deps, tokenId, payment, 'task ended before the payment completed', signal);
  }
  // A charge found just now is captured: read again, so it is delivered or refunded below like the others.
  if (open.length) due = await deps.repos.payments.toClose(taskId);
  for (const payment of due) {
    if (payment.state !== 'captured') continue;
    // Stored but not yet marked delivered (a crash between the two writes): it was delivered.
    if (payment.company_status === 'bought') {
      await deps.repos.payments.markDelivered(payment.id);
      continue;
    }
    await refundPayment(deps, payment, undefined, signal);
    await deps.repos.companies.settle(taskId, payment.company_id, 'refunded', { error: { code: 'not_delivered', message: 'charged but the record was never delivered; refunded' } }, ['found', 'failed']);
  }
  return tokenId ? foreignCharges(deps, taskId, tokenId, signal) : null;
}

/**
 * Charges on the task's token under a key that is not ours were made by someone holding the token, not
 * by us: the token is closed now, so the issuer's list is final; operators see them on the dashboard
 * once they are noted (tasks.noteForeignCharges, or the report's statement).
 */
async function foreignCharges(deps: StageDeps, taskId: string, tokenId: string, signal?: AbortSignal): Promise<ForeignCharge[]> {
  const token = await deps.providers.issuer.getToken(tokenId, signal);
  const foreign = token.charges.filter((c) => !isPaymentKeyOf(taskId, c.idempotencyKey)).map((c) => ({ chargeId: c.id, amount: c.amount }));
  if (foreign.length) deps.log.warn({ taskId, charges: foreign.length }, 'charges on the task token that we did not make');
  return foreign;
}

/**
 * Ends a task once (its `ended` event and any webhook delivery are written with it) and queues its webhook.
 * Returns false when it had ended already.
 */
export async function endTask(deps: StageDeps, taskId: string, status: 'completed' | 'failed' | 'cancelled', error?: { code: string; message: string }): Promise<boolean> {
  const ended = await deps.repos.tasks.endTelling(taskId, status, error);
  if (ended) await announceEnd(deps, taskId, ended.deliveries);
  return ended !== undefined;
}

/** Ends a task as failed with a reason, after closing its money. */
export async function failTask(deps: StageDeps, taskId: string, code: string, message: string): Promise<void> {
  await closeTaskMoney(deps, taskId);
  if (await endTask(deps, taskId, 'failed', { code, message })) deps.log.warn({ taskId, code, message }, 'task failed');
}

/**
 * Called when a stage finds its task ended or cancelled: a cancel asked for is carried out
 * (money closed, status cancelled). Returns what the stage should report.
 */
export async function stopIfCancelled(deps: StageDeps, taskId: string): Promise<{ stopped: string }> {
  const task = await deps.repos.tasks.get(taskId);
  if (!task) return { stopped: 'missing' };
  if (task.cancel_requested && (task.status === 'queued' || task.status === 'running')) {
    await closeTaskMoney(deps, taskId);
    await endTask(deps, taskId, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' });
    return { stopped: 'cancelled' };
  }
  return { stopped: task.status };
}
