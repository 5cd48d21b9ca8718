import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../shared/db/index.ts';
import { PermanentError } from '../shared/errors.ts';
import { formatMoney } from '../shared/money.ts';
import { openHarness, type Harness } from '../test/support/harness.ts';
import { expectBudgetUseOfLedger } from '../test/support/budget-use.ts';
import { logSink } from '../test/support/log-sink.ts';
import { FIRST_ATTEMPT, issuerCharges, readyForDetail } from '../test/support/stages.ts';
import { processDetail } from './detail/processor.ts';
import { closeTaskMoney, failTask, refundPayment, settleByIssuer, stopIfCancelled } from './settle.ts';

/**
 * Closing a task's money (queues/settle.ts), state by state: what the issuer's record says decides,
 * nothing stays held, nothing delivered is refunded, nothing undelivered is kept — and a second run
 * changes nothing.
 */
describe('closing the money of a task', () => {
  let h: Harness;
  const log = logSink();
  beforeAll(async () => {
    h = await openHarness({ logTo: log.stream, env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => h?.close());

  /** Reserves a chosen company's price by hand, as a detail job that got no further would have. */
  async function reserveOnly(taskId: string, companyId: string) {
    const company = (await h.repos.companies.get(taskId, companyId))!;
    const resource = h.deps.providers.marketplace.resourceOf(companyId);
    const key = paymentKey(taskId, resource);
    const reserved = await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key });
    if (reserved.kind !== 'reserved') throw new Error(`expected a reservation, got ${reserved.kind}`);
    return { payment: reserved.payment, company, resource, key };
  }

  /** Pays a reserved payment at the marketplace (a charge at the issuer under our key) without booking it. */
  async function chargeUnbooked(taskId: string, payment: { amount: number; resource: string; idempotency_key: string }) {
    const tokenId = await tokenIdOf(taskId);
    return h.deps.providers.marketplace.pay({ tokenId, amount: formatMoney(payment.amount), resource: payment.resource, idempotencyKey: payment.idempotency_key });
  }

  const tokenIdOf = async (taskId: string) => h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!;
  const stateOf = async (taskId: string, companyId: string) => (await h.repos.payments.forTask(taskId)).find((p) => p.company_id === companyId)!;

  it('closes the token first, then books a charge that landed unseen as captured and refunds it (never delivered)', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'battery' });
    const { payment, company, resource, key } = await reserveOnly(taskId, companyIds[0]!);
    // The pay call went through, then the worker died: our books say reserved, the issuer has the charge.
    await h.deps.providers.marketplace.pay({ tokenId: await tokenIdOf(taskId), amount: formatMoney(company.price), resource, idempotencyKey: key });

    await closeTaskMoney(h.deps, taskId);

    const token = (await h.deps.providers.issuer.tokensFor(taskId))[0]!;
    expect(token.status).toBe('closed');
    expect(token.charges).toHaveLength(1);
    expect(token.charges[0]).toMatchObject({ amount: company.price, refundedAmount: company.price });
    const after = await stateOf(taskId, company.company_id);
    expect(after).toMatchObject({ id: payment.id, state: 'refunded', charge_id: token.charges[0]!.id, refunded_amount: company.price });
    const task = (await h.repos.tasks.get(taskId))!;
    expect({ reserved: task.reserved, captured: task.captured, refunded: task.refunded }).toEqual({ reserved: 0, captured: company.price, refunded: company.price });
    const settled = (await h.repos.companies.get(taskId, company.company_id))!;
    expect(settled.status).toBe('refunded');
    expect(settled.error_code).toBe('not_delivered');
    expect(settled.error_message).toBe('charged but the record was never delivered; refunded');
    // Every other chosen company never got an outcome: skipped, with the reason.
    for (const other of companyIds.slice(1)) {
      expect(await h.repos.companies.get(taskId, other)).toMatchObject({ status: 'skipped', error_code: 'task_ended', error_message: 'the task ended before this company was bought' });
    }
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture', 'refund']);

    // Again (a redelivered report): nothing more moves.
    await closeTaskMoney(h.deps, taskId);
    expect(await h.repos.payments.ledger(taskId)).toHaveLength(3);
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(company.price);
  });

  it('marks a record stored before the crash as delivered instead of refunding it', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'semiconductor' });
    const companyId = companyIds[0]!;
    expect((await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    // The record was stored, then the worker died before marking the payment delivered.
    const bought = await stateOf(taskId, companyId);
    await h.database.db.updateTable('payments').set({ state: 'captured' }).where('id', '=', bought.id).execute();

    await closeTaskMoney(h.deps, taskId);

    expect((await stateOf(taskId, companyId)).state).toBe('delivered');
    expect((await h.repos.companies.get(taskId, companyId))!.status).toBe('bought');
    const charge = (await issuerCharges(h, taskId))[0]!;
    expect(charge.refundedAmount).toBe(0);
    expect((await h.repos.tasks.get(taskId))!.refunded).toBe(0);
  });

  it('refunds what is left of a partly refunded charge whose record never arrived', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'logistics' });
    const { company, resource, key, payment } = await reserveOnly(taskId, companyIds[0]!);
    const receipt = await h.deps.providers.marketplace.pay({ tokenId: await tokenIdOf(taskId), amount: formatMoney(company.price), resource, idempotencyKey: key });
    await h.repos.payments.capture(payment.id, receipt.chargeId);
    await refundPayment(h.deps, (await h.repos.payments.get(payment.id))!, 100);

    await closeTaskMoney(h.deps, taskId);

    const charge = (await issuerCharges(h, taskId))[0]!;
    expect(charge.refundedAmount).toBe(company.price);
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund').map((l) => l.amount)).toEqual([100, company.price - 100]);
    expect((await stateOf(taskId, company.company_id)).state).toBe('refunded');
  });

  it('a task that never got a token (failed before authorize) closes with nothing to ask the issuer', async () => {
    const res = await h.api('/v1/tasks', { body: { theme: 'solar', budget: '20.00', voiceId: 'demo-voice' } });
    const { id } = (await res.json()) as { id: string };
    await h.repos.tasks.enterStage(id, 'search');
    await failTask(h.deps, id, 'provider_unavailable', 'the marketplace search kept failing');
    const task = (await h.repos.tasks.get(id))!;
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_unavailable', error_message: 'the marketplace search kept failing', reserved: 0, token_id: null });
    expect(await h.deps.providers.issuer.tokensFor(id)).toEqual([]);
  });

  it('failTask closes the money before it marks the task failed', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'fintech' });
    const { company } = await reserveOnly(taskId, companyIds[0]!);
    await failTask(h.deps, taskId, 'report_failed', 'the report could not be written');
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.status).toBe('failed');
    expect(task.reserved).toBe(0);
    expect(task.released).toBe(company.price);
    expect((await h.deps.providers.issuer.tokensFor(taskId))[0]!.status).toBe('closed');
  });

  it('closing the money of a task that does not exist does nothing', async () => {
    await expect(closeTaskMoney(h.deps, '00000000-0000-4000-8000-000000000001')).resolves.toBeUndefined();
  });

  it('counts the movements it books in the budget use at once, with the reason', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'semiconductor', budget: '80.00' });
    const { payment } = await reserveOnly(taskId, companyIds[1]!);
    await closeTaskMoney(h.deps, taskId);
    const ledger = await h.repos.payments.ledger(taskId);
    expect(ledger.map((l) => l.kind)).toEqual(['reserve', 'release']);
    expect((await stateOf(taskId, companyIds[1]!)).last_error).toBe('task ended before the payment completed');
    // The release it booked (the reservation was made by hand here, outside any stage).
    const release = ledger.find((l) => l.kind === 'release')!;
    expect(release.payment_id).toBe(payment.id);
    await expectBudgetUseOfLedger(h, taskId);
  });

  it('settleByIssuer without a token releases: nothing can have been charged', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'robotics' });
    const { payment, company } = await reserveOnly(taskId, companyIds[0]!);
    expect(await settleByIssuer(h.deps, null, payment, 'no token')).toBe('released');
    expect(await stateOf(taskId, company.company_id)).toMatchObject({ state: 'released', last_error: 'no token' });
    expect((await h.repos.tasks.get(taskId))!.released).toBe(company.price);
  });

  it('refundPayment refuses a payment with no charge, and does nothing when nothing is left', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'biotech' });
    const { payment } = await reserveOnly(taskId, companyIds[0]!);
    await expect(refundPayment(h.deps, payment)).rejects.toMatchObject({ code: 'no_charge' });
    await expect(refundPayment(h.deps, payment)).rejects.toBeInstanceOf(PermanentError);
    const done = { ...payment, charge_id: 'ch_x', refunded_amount: payment.amount };
    await expect(refundPayment(h.deps, done)).resolves.toEqual(done);
    // A target already reached (here: nothing to refund in all) asks the issuer nothing.
    await expect(refundPayment(h.deps, { ...payment, charge_id: 'ch_x' }, 0)).resolves.toEqual({ ...payment, charge_id: 'ch_x' });
    expect(await h.repos.payments.ledger(taskId)).toHaveLength(1);
  });

  it('stopIfCancelled ends a cancelled task with its money closed, and leaves others as they are', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'e-commerce' });
    await reserveOnly(taskId, companyIds[0]!);
    expect(await stopIfCancelled(h.deps, taskId)).toEqual({ stopped: 'running' });
    expect((await h.repos.tasks.get(taskId))!.status).toBe('running');
    await h.repos.tasks.requestCancel(taskId, 'acme');
    expect(await stopIfCancelled(h.deps, taskId)).toEqual({ stopped: 'cancelled' });
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task).toMatchObject({ status: 'cancelled', error_code: 'cancelled', error_message: 'cancelled by the client', reserved: 0 });
    expect((await h.deps.providers.issuer.tokensFor(taskId))[0]!.status).toBe('closed');
    expect(await stopIfCancelled(h.deps, taskId)).toEqual({ stopped: 'cancelled' });
    expect(await stopIfCancelled(h.deps, '00000000-0000-4000-8000-000000000000')).toEqual({ stopped: 'missing' });
  });

  it('stopIfCancelled cancels a task still queued, and leaves a task that ended otherwise after the request with its own outcome', async () => {
    const queued = await h.api('/v1/tasks', { body: { theme: 'battery', budget: '10.00', voiceId: 'demo-voice' } });
    const { id: queuedId } = (await queued.json()) as { id: string };
    await h.repos.tasks.requestCancel(queuedId, 'acme');
    expect(await stopIfCancelled(h.deps, queuedId)).toEqual({ stopped: 'cancelled' });
    expect((await h.repos.tasks.get(queuedId))!.status).toBe('cancelled');

    // The cancel came in while the report stage was completing the task: the task stays completed.
    const { taskId } = await readyForDetail(h, { theme: 'e-commerce' });
    await h.repos.tasks.requestCancel(taskId, 'acme');
    await h.repos.tasks.end(taskId, 'completed');
    expect(await stopIfCancelled(h.deps, taskId)).toEqual({ stopped: 'completed' });
    expect((await h.repos.tasks.get(taskId))!).toMatchObject({ status: 'completed', error_code: null });
  });

  it('settleByIssuer books a charge found under our key as captured and counts it in the budget use; a second run with the old read changes nothing', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'battery' });
    const { payment, company } = await reserveOnly(taskId, companyIds[0]!);
    const receipt = await chargeUnbooked(taskId, payment);
    expect(await settleByIssuer(h.deps, await tokenIdOf(taskId), payment, 'crash')).toBe('captured');
    expect(await stateOf(taskId, company.company_id)).toMatchObject({ state: 'captured', charge_id: receipt.chargeId });
    await expectBudgetUseOfLedger(h, taskId);
    // The payment as read before: capturing again moves nothing and does not fail.
    expect(await settleByIssuer(h.deps, await tokenIdOf(taskId), payment, 'crash')).toBe('captured');
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
    // Releasing twice, the same: the second finds nothing to release.
    const other = await reserveOnly(taskId, companyIds[1]!);
    expect(await settleByIssuer(h.deps, null, other.payment, 'no token')).toBe('released');
    expect(await settleByIssuer(h.deps, null, other.payment, 'no token')).toBe('released');
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.payment_id === other.payment.id).map((l) => l.kind)).toEqual(['reserve', 'release']);
  });

  it('refundPayment retried with the payment as read before the first refund gets that refund back from the issuer, not a second one', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'semiconductor' });
    const { payment } = await reserveOnly(taskId, companyIds[0]!);
    const receipt = await chargeUnbooked(taskId, payment);
    await h.repos.payments.capture(payment.id, receipt.chargeId);
    const captured = await stateOf(taskId, companyIds[0]!);
    // Two workers refund the same 1.00 of one payment, both from the same read (or a crash between the
    // issuer's refund and our booking, then a retry): the issuer sees one refund key, so one refund.
    await Promise.all([refundPayment(h.deps, captured, 100), refundPayment(h.deps, captured, 100)]);
    await refundPayment(h.deps, captured, 100);
    const charge = (await issuerCharges(h, taskId)).find((c) => c.id === receipt.chargeId)!;
    expect(charge.refundedAmount).toBe(100);
    expect((await stateOf(taskId, companyIds[0]!)).refunded_amount).toBe(100);
    const refunds = (await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund');
    expect(refunds).toHaveLength(1);
    await expectBudgetUseOfLedger(h, taskId);
    // Refunding the rest is a new refund under a new key.
    await refundPayment(h.deps, await stateOf(taskId, companyIds[0]!));
    expect((await issuerCharges(h, taskId)).find((c) => c.id === receipt.chargeId)!.refundedAmount).toBe(payment.amount);
    await expect(refundPayment(h.deps, payment)).rejects.toThrow(`payment ${payment.id} has no charge to refund`);
  });

  it('a company that failed while its charge was taken is refunded when the task closes', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'logistics' });
    const { payment } = await reserveOnly(taskId, companyIds[0]!);
    const receipt = await chargeUnbooked(taskId, payment);
    await h.repos.payments.capture(payment.id, receipt.chargeId);
    await h.repos.companies.settle(taskId, companyIds[0]!, 'failed', { error: { code: 'bad_data', message: 'unreadable' } });
    await closeTaskMoney(h.deps, taskId);
    expect(await h.repos.companies.get(taskId, companyIds[0]!)).toMatchObject({ status: 'refunded', error_code: 'not_delivered' });
    expect(await stateOf(taskId, companyIds[0]!)).toMatchObject({ state: 'refunded', refunded_amount: payment.amount });
  });

  it('a captured purchase of 0.00 that was never delivered has nothing to refund: the company is not shown as refunded', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'fintech' });
    const resource = h.deps.providers.marketplace.resourceOf(companyIds[0]!);
    const reserved = await h.repos.payments.reserve({ taskId, companyId: companyIds[0]!, tenant: 'acme', resource, amount: 0, key: paymentKey(taskId, resource) });
    if (reserved.kind !== 'reserved') throw new Error(reserved.kind);
    await h.repos.payments.capture(reserved.payment.id, 'ch_free');
    await closeTaskMoney(h.deps, taskId);
    expect(await h.repos.companies.get(taskId, companyIds[0]!)).toMatchObject({ status: 'skipped', error_code: 'task_ended' });
    expect(await stateOf(taskId, companyIds[0]!)).toMatchObject({ state: 'captured', refunded_amount: 0 });
  });

  it('failTask tells the operators once, with the task, code and message', async () => {
    const { taskId } = await readyForDetail(h, { theme: 'robotics' });
    await failTask(h.deps, taskId, 'report_failed', 'the model kept failing');
    await failTask(h.deps, taskId, 'report_failed', 'the model kept failing');
    const lines = log.lines().filter((l) => l.msg === 'task failed' && l.taskId === taskId);
    expect(lines).toEqual([expect.objectContaining({ level: 40, taskId, code: 'report_failed', message: 'the model kept failing' })]);
  });
});
