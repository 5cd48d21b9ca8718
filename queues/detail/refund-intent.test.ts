import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../shared/audit/reconcile.ts';
import type { PaymentRepository } from '../../shared/db/payments.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { formatMoney } from '../../shared/money.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { budgetOf, capturedByHand, FIRST_ATTEMPT, issuerCharges, LAST_ATTEMPT, marketplaceWith, readyForDetail } from '../../test/support/stages.ts';
import type { StageDeps } from '../deps.ts';
import { processReport } from '../report/processor.ts';
import { finishPendingRefund, refundPayment } from '../settle.ts';
import { processDetail } from './processor.ts';

/**
 * A refund the issuer made is never forgotten: the process can die after the issuer refunded and before
 * the refund is booked. The next attempt may then see things differently (the record arrives whole, the
 * marketplace is back): it must book the refund that happened, not decide afresh. The intent written on
 * the payment before the issuer is asked is what it replays.
 */
describe('a refund interrupted between the issuer and our books', () => {
  let h: Harness;
  let partial: Awaited<ReturnType<typeof marketplaceWith>>;
  let gone: Awaited<ReturnType<typeof marketplaceWith>>;
  beforeAll(async () => {
    h = await openHarness();
    // Records without their financials and shareholders: a part of the price is refunded.
    partial = await marketplaceWith(h, { detail_partial: 1 });
    // Paid records that never arrive: on the last attempt the whole price is refunded.
    gone = await marketplaceWith(h, { detail_gone: 1 });
  });
  afterAll(async () => {
    await partial?.close();
    await gone?.close();
    await h?.close();
  });

  /** These deps, in a process that dies as it books a refund: the issuer has refunded, our books have not. */
  const dyingAtRefund = (deps: StageDeps): StageDeps => {
    const payments: PaymentRepository = Object.create(deps.repos.payments, {
      refund: { value: async () => Promise.reject(new Error('process killed')) },
    });
    return { ...deps, repos: { ...deps.repos, payments } };
  };

  /** A payment charged and its capture booked, as the detail stage leaves it before fetching the record. */
  async function capturedPayment(taskId: string, companyId: string) {
    const { payment } = await capturedByHand(h, taskId, companyId);
    return (await h.repos.payments.get(payment.id))!;
  }

  /** Our books and the issuer's agree on every charge of the task, refunds included. */
  async function booksAgree(taskId: string) {
    const ours = await h.repos.payments.forTask(taskId);
    const theirs = await issuerCharges(h, taskId);
    for (const p of ours.filter((p) => p.charge_id)) {
      const charge = theirs.find((c) => c.id === p.charge_id)!;
      expect({ payment: p.id, refunded: p.refunded_amount }).toEqual({ payment: p.id, refunded: charge.refundedAmount });
    }
  }

  it('a partial refund made before the crash is booked by the next attempt, even when that one gets the whole record', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'battery' });
    const companyId = companyIds[0]!;
    await expect(processDetail({ taskId, companyId }, dyingAtRefund(partial.deps), FIRST_ATTEMPT)).rejects.toThrow('process killed');
    const [charge] = await issuerCharges(h, taskId);
    expect(charge!.refundedAmount).toBeGreaterThan(0);
    const held = (await h.repos.payments.forTask(taskId))[0]!;
    expect(held).toMatchObject({ state: 'captured', refunded_amount: 0, pending_refund_amount: charge!.refundedAmount });

    // The retry meets a marketplace that delivers the record whole: no refund is due for it, but one was made.
    expect(await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT)).toEqual({ outcome: 'bought', companyId });
    const after = (await h.repos.payments.forTask(taskId))[0]!;
    expect(after).toMatchObject({ state: 'delivered', refunded_amount: charge!.refundedAmount, pending_refund_key: null, pending_refund_amount: null });
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(charge!.refundedAmount);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture', 'refund']);
    await booksAgree(taskId);
  });

  it('a refund in full made before the crash is booked, and the company stays refunded, even once the marketplace is back', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'logistics' });
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    await expect(processDetail({ taskId, companyId }, dyingAtRefund(gone.deps), LAST_ATTEMPT)).rejects.toThrow('process killed');
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(company.price);

    // The job runs again (its worker died, BullMQ hands it on) and the record would arrive now: the money
    // went back already, so the company is not bought with it.
    expect(await processDetail({ taskId, companyId }, h.deps, LAST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId });
    expect((await h.repos.companies.get(taskId, companyId))!.status).toBe('refunded');
    expect(await budgetOf(h, taskId)).toMatchObject({ spent: '0.00', refunded: formatMoney(company.price), remaining: '60.00' });
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(company.price);
    await booksAgree(taskId);
  });

  it('a refund left unfinished when the job is given up is carried out by the end of the task, once', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'semiconductor' });
    const companyId = companyIds[0]!;
    await expect(processDetail({ taskId, companyId }, dyingAtRefund(partial.deps), FIRST_ATTEMPT)).rejects.toThrow('process killed');
    const refundedAtIssuer = (await issuerCharges(h, taskId))[0]!.refundedAmount;
    // No retry comes (the job failed for good); the other companies are done; the report closes the task.
    for (const other of companyIds.slice(1)) await processDetail({ taskId, companyId: other }, h.deps, FIRST_ATTEMPT);
    await processReport({ taskId }, h.deps, FIRST_ATTEMPT);

    const payment = (await h.repos.payments.forTask(taskId)).find((p) => p.company_id === companyId)!;
    // The partial refund is booked, and the rest refunded too (the record was never delivered).
    expect(payment).toMatchObject({ state: 'refunded', refunded_amount: payment.amount, pending_refund_key: null });
    expect(refundedAtIssuer).toBeLessThan(payment.amount);
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.payment_id === payment.id && l.kind === 'refund').map((l) => l.amount)).toEqual([
      refundedAtIssuer,
      payment.amount - refundedAtIssuer,
    ]);
    await booksAgree(taskId);
    expect((await reconcile(h.repos, h.deps.providers.issuer, taskId)).differences).toEqual([]);
  });

  it('an intent the issuer refuses moved no money: it is dropped, and the refund can be asked again', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'solar' });
    const payment = await capturedPayment(taskId, companyIds[0]!);
    // More than the charge: the issuer answers 422 refund_exceeds_charge.
    const intended = await h.repos.payments.intendRefund(payment.id, 'too-much', payment.amount + 1, 0);
    expect(intended.pending_refund_key).toBe('too-much');
    await expect(finishPendingRefund(h.deps, intended, undefined)).rejects.toBeInstanceOf(PermanentError);
    expect(await h.repos.payments.get(payment.id)).toMatchObject({ pending_refund_key: null, pending_refund_amount: null, refunded_amount: 0 });
    const refunded = await refundPayment(h.deps, (await h.repos.payments.get(payment.id))!);
    expect(refunded).toMatchObject({ state: 'refunded', refunded_amount: payment.amount });
    await booksAgree(taskId);
  });

  it('an intent whose refund call got no answer is kept: the refund may have been made', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'biotech' });
    const payment = await capturedPayment(taskId, companyIds[0]!);
    const intended = await h.repos.payments.intendRefund(payment.id, 'no-answer', 100, 0);
    const unreachable: StageDeps = {
      ...h.deps,
      providers: { ...h.deps.providers, issuer: createProviders({ marketplaceUrl: 'http://127.0.0.1:9', tokenIssuerUrl: 'http://127.0.0.1:9', voiceIdUrl: 'http://127.0.0.1:9', issuerApiKey: 'k', timeoutMs: 500 }).issuer },
    };
    await expect(finishPendingRefund(unreachable, intended, undefined)).rejects.toBeInstanceOf(TransientError);
    expect(await h.repos.payments.get(payment.id)).toMatchObject({ pending_refund_key: 'no-answer', pending_refund_amount: 100, refunded_amount: 0 });
    // The issuer answers again: the same intent is carried out and booked.
    expect(await finishPendingRefund(h.deps, intended, undefined)).toMatchObject({ pending_refund_key: null, refunded_amount: 100 });
    await booksAgree(taskId);
  });

  it('one intent at a time, on the payment as it was read: a stale or second intent is not written', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'robotics' });
    const payment = await capturedPayment(taskId, companyIds[0]!);
    expect((await h.repos.payments.intendRefund(payment.id, 'a', 100, 0)).pending_refund_key).toBe('a');
    expect(await h.repos.payments.intendRefund(payment.id, 'b', 200, 0)).toMatchObject({ pending_refund_key: 'a', pending_refund_amount: 100 });
    await h.repos.payments.dropRefundIntent(payment.id, 'b');
    expect((await h.repos.payments.get(payment.id))!.pending_refund_key).toBe('a');
    // Finishing it books it; an intent read against a refunded amount that has since moved is refused.
    await finishPendingRefund(h.deps, (await h.repos.payments.get(payment.id))!, undefined);
    expect(await h.repos.payments.get(payment.id)).toMatchObject({ refunded_amount: 100, pending_refund_key: null });
    expect(await h.repos.payments.intendRefund(payment.id, 'c', 50, 0)).toMatchObject({ pending_refund_key: null, refunded_amount: 100 });
    await booksAgree(taskId);
  });

  it('two processes refunding one payment at once refund it once and book it once', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme: 'fintech' });
    const payment = await capturedPayment(taskId, companyIds[0]!);
    const both = await Promise.all([refundPayment(h.deps, payment), refundPayment(h.deps, payment)]);
    for (const p of both) expect(p).toMatchObject({ state: 'refunded', refunded_amount: payment.amount });
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund').map((l) => l.amount)).toEqual([payment.amount]);
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(payment.amount);
  });
});
