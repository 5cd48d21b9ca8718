import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../shared/errors.ts';
import { createProviders } from '../shared/providers/index.ts';
import { ISSUER_KEY, openHarness, type Harness } from '../test/support/harness.ts';
import { startRewritingProxy, type RewritingProxy } from '../test/support/rewriting-proxy.ts';
import { capturedByHand, issuerCharges, readyForDetail } from '../test/support/stages.ts';
import type { StageDeps } from './deps.ts';
import { refundPayment } from './settle.ts';

/**
 * A lying issuer cannot make us book a refund it did not make for us, nor keep a refund asking forever:
 * its answer to a refund must be the refund asked for (that charge, that amount, a refund not booked
 * before); anything else is refused with `issuer_refund_mismatch`, the intent dropped, nothing booked.
 * The issuer behind the proxy is the real stand-in (the refund it is asked for is made there), so once
 * the issuer answers truly the same intent's key books what it made, and the books agree with it.
 */
describe('refunds answered by a lying issuer', () => {
  let h: Harness;
  let proxy: RewritingProxy;
  let lie: ((body: any) => any) | undefined;
  let lying: StageDeps;
  beforeAll(async () => {
    h = await openHarness();
    proxy = await startRewritingProxy((req, body) => (lie && req.method === 'POST' && req.path.endsWith('/refunds') ? lie(body) : undefined));
    proxy.setUpstream(h.mocks.urls.tokenIssuer!);
    lying = {
      ...h.deps,
      providers: createProviders({ marketplaceUrl: h.mocks.urls.marketplace!, tokenIssuerUrl: proxy.url, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 3_000 }),
    };
  });
  afterAll(async () => {
    await lying?.providers.close();
    await proxy?.close();
    await h?.close();
  });

  /** A captured payment of a task ready for detail, with `first` fen of it refunded honestly (booked). */
  async function partlyRefunded(theme: string, first: number) {
    const { taskId, companyIds } = await readyForDetail(h, { budget: '60.00', theme });
    const { payment } = await capturedByHand(h, taskId, companyIds[0]!);
    const after = await refundPayment(h.deps, (await h.repos.payments.get(payment.id))!, first);
    expect(after).toMatchObject({ refunded_amount: first, pending_refund_key: null });
    const booked = (await h.repos.payments.ledger(taskId)).find((l) => l.kind === 'refund')!;
    return { taskId, paymentId: payment.id, amount: payment.amount, firstRefundId: booked.event_key.split(':refund:')[1]! };
  }

  const refundsBooked = async (taskId: string) => (await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund').map((l) => l.amount);

  async function expectBooksAgreeWithIssuer(taskId: string, paymentId: number) {
    const payment = (await h.repos.payments.get(paymentId))!;
    const charge = (await issuerCharges(h, taskId)).find((c) => c.id === payment.charge_id)!;
    expect(payment.refunded_amount).toBe(charge.refundedAmount);
    expect((await h.repos.tasks.get(taskId))!.refunded).toBe(charge.refundedAmount);
  }

  it('a new refund answered with a refund booked before books nothing, is refused, and ends', async () => {
    const { taskId, paymentId, amount, firstRefundId } = await partlyRefunded('solar', 100);
    lie = (body) => ({ ...body, id: firstRefundId });
    const refused = refundPayment(lying, (await h.repos.payments.get(paymentId))!);
    await expect(refused).rejects.toBeInstanceOf(PermanentError);
    await expect(refused).rejects.toMatchObject({ code: 'issuer_refund_mismatch', message: `the issuer answered a new refund of payment ${paymentId} with a refund booked before` });
    expect(await h.repos.payments.get(paymentId)).toMatchObject({ refunded_amount: 100, pending_refund_key: null, pending_refund_amount: null });
    expect(await refundsBooked(taskId)).toEqual([100]);
    expect((await h.repos.tasks.get(taskId))!.refunded).toBe(100);
    // The issuer tells the truth again: the refund it made under the same key is booked, once.
    lie = undefined;
    expect(await refundPayment(h.deps, (await h.repos.payments.get(paymentId))!)).toMatchObject({ state: 'refunded', refunded_amount: amount });
    expect(await refundsBooked(taskId)).toEqual([100, amount - 100]);
    await expectBooksAgreeWithIssuer(taskId, paymentId);
  });

  it('a refund answered for another charge, or another amount, is not booked', async () => {
    const { taskId, paymentId, amount } = await partlyRefunded('robotics', 50);
    for (const forge of [(body: any) => ({ ...body, chargeId: 'ch_someone_else' }), (body: any) => ({ ...body, amount: '0.01' })]) {
      lie = forge;
      await expect(refundPayment(lying, (await h.repos.payments.get(paymentId))!)).rejects.toMatchObject({
        code: 'issuer_refund_mismatch',
        message: `the issuer answered the refund of payment ${paymentId} with a refund of another charge or amount`,
      });
      expect(await h.repos.payments.get(paymentId)).toMatchObject({ refunded_amount: 50, pending_refund_key: null });
      expect(await refundsBooked(taskId)).toEqual([50]);
    }
    lie = undefined;
    expect(await refundPayment(h.deps, (await h.repos.payments.get(paymentId))!)).toMatchObject({ state: 'refunded', refunded_amount: amount });
    expect(await refundsBooked(taskId)).toEqual([50, amount - 50]);
    await expectBooksAgreeWithIssuer(taskId, paymentId);
  });

  it("a refund booked before, replayed without the intent's key, leaves a pending intent alone", async () => {
    const { taskId, paymentId, firstRefundId } = await partlyRefunded('biotech', 100);
    const intended = await h.repos.payments.intendRefund(paymentId, 'pending-intent', 200, 100);
    expect(intended.pending_refund_key).toBe('pending-intent');
    // Another process booking the earlier refund again (its answer replayed): nothing moves, the intent stays.
    expect(await h.repos.payments.refund(paymentId, firstRefundId, 100)).toBeUndefined();
    expect(await h.repos.payments.get(paymentId)).toMatchObject({ refunded_amount: 100, pending_refund_key: 'pending-intent', pending_refund_amount: 200 });
    expect(await refundsBooked(taskId)).toEqual([100]);
  });
});
