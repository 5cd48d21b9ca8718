import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { budgetView, formatMoney } from '../../shared/money.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { expectBudgetUseOfLedger } from '../../test/support/budget-use.ts';
import { ISSUER_KEY, openHarness, type Harness } from '../../test/support/harness.ts';
import { startHostileMarketplace, type HostileMarketplace } from '../../test/support/hostile-marketplace.ts';
import { capturedByHand, FIRST_ATTEMPT, issuerCharges, LAST_ATTEMPT, readyForDetail } from '../../test/support/stages.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import type { StageDeps } from '../deps.ts';
import { closeTaskMoney } from '../settle.ts';
import { processDetail } from './processor.ts';

/** One harness and one lying marketplace in front of its issuer, for every test here; the lies reset after each. */
let h: Harness;
let market: HostileMarketplace;
let deps: StageDeps;
beforeAll(async () => {
  h = await openHarness();
  market = await startHostileMarketplace({ realMarketplaceUrl: h.mocks.urls.marketplace!, issuerUrl: h.mocks.urls.tokenIssuer!, issuerApiKey: ISSUER_KEY });
  deps = {
    ...h.deps,
    providers: createProviders({ marketplaceUrl: market.url, tokenIssuerUrl: h.mocks.urls.tokenIssuer!, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 3_000 }),
  };
});
afterEach(() => {
  market.lies = {};
  market.payCalls.length = 0;
});
afterAll(async () => {
  await market?.close();
  await h?.close();
});

/**
 * The listing binds the purchase (DESIGN.md §3): a marketplace that lies about the price, names
 * another resource, or hands over a receipt or record for something else does not get paid — or is
 * refunded in full — whatever it says.
 */
describe('detail stage against a lying marketplace', () => {
  /** A task ready to buy, searched on the honest marketplace: its listed prices are the real ones. */
  async function chosenCompany(theme: string) {
    const { taskId, companyIds } = await readyForDetail(h, { theme, budget: '100.00' });
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    return { taskId, companyId: company.company_id, listed: company.price };
  }

  async function budgetOf(taskId: string) {
    const t = (await h.repos.tasks.get(taskId))!;
    return budgetView({ limit: t.budget_limit, reserved: t.reserved, captured: t.captured, refunded: t.refunded });
  }

  it('does not pay a 402 that asks more than the listed price: skipped as price_changed, nothing reserved or charged', async () => {
    const { taskId, companyId, listed } = await chosenCompany('battery');
    market.lies.price = '45.00';
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'skipped', companyId });
    const company = (await h.repos.companies.get(taskId, companyId))!;
    expect(company.status).toBe('skipped');
    expect(company.error_code).toBe('price_changed');
    expect(company.error_message).toContain(formatMoney(listed));
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
    expect(await h.repos.payments.ledger(taskId)).toEqual([]);
    expect(market.payCalls).toEqual([]);
    expect(await issuerCharges(h, taskId)).toEqual([]);
    expect(await budgetOf(taskId)).toMatchObject({ reserved: '0.00', spent: '0.00', remaining: '100.00' });
  });

  it('does not pay a 402 that names the resource of another company: skipped as resource_mismatch', async () => {
    const { taskId, companyId } = await chosenCompany('semiconductor');
    market.lies.resource = '/company/detail?id=someone-else';
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'skipped', companyId });
    expect((await h.repos.companies.get(taskId, companyId))!.error_code).toBe('resource_mismatch');
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
    expect(market.payCalls).toEqual([]);
    expect(await issuerCharges(h, taskId)).toEqual([]);
  });

  it('pays a lower price as asked, and only that', async () => {
    const { taskId, companyId, listed } = await chosenCompany('logistics');
    const asked = listed - 100;
    market.lies.price = formatMoney(asked);
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'bought', companyId });
    expect(market.payCalls.map((p) => p.body.amount)).toEqual([formatMoney(asked)]);
    expect((await issuerCharges(h, taskId)).map((c) => c.amount)).toEqual([asked]);
    expect(await budgetOf(taskId)).toMatchObject({ spent: formatMoney(asked), reserved: '0.00' });
  });

  it.each([
    ['another resource', { receiptResource: '/company/detail?id=someone-else' }],
    ['another amount', { receiptAmount: '0.01' }],
  ])('refunds in full a charge whose receipt is for %s (receipt_mismatch)', async (_what, lies) => {
    const { taskId, companyId, listed } = await chosenCompany('biotech');
    Object.assign(market.lies, lies);
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId });
    const company = (await h.repos.companies.get(taskId, companyId))!;
    expect(company.status).toBe('refunded');
    expect(company.error_code).toBe('receipt_mismatch');
    const charges = await issuerCharges(h, taskId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ amount: listed, refundedAmount: listed });
    expect(await budgetOf(taskId)).toMatchObject({ spent: '0.00', reserved: '0.00', refunded: formatMoney(listed), remaining: '100.00' });
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ state: 'refunded', receipt: null });
  });

  it('refunds in full a record delivered for another company (receipt_mismatch), and stores nothing of it', async () => {
    const { taskId, companyId, listed } = await chosenCompany('solar');
    market.lies.recordId = 'someone-else';
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId });
    const company = (await h.repos.companies.get(taskId, companyId))!;
    expect(company.error_code).toBe('receipt_mismatch');
    expect(company.detail).toBeNull();
    expect((await issuerCharges(h, taskId))[0]).toMatchObject({ amount: listed, refundedAmount: listed });
    expect(await budgetOf(taskId)).toMatchObject({ spent: '0.00', remaining: '100.00' });
  });

  it('a pay call answered 402 after the charge landed is never paid again under a new key: the record of the issuer decides', async () => {
    const { taskId, companyId, listed } = await chosenCompany('robotics');
    market.lies.payFailsAfterCharge = { status: 402, code: 'payment_required' };
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId });
    expect((await h.repos.companies.get(taskId, companyId))!.error_message).toMatch(/; the charge was refunded$/);
    // Retried to the last attempt: still the one key, the one charge.
    await processDetail({ taskId, companyId }, deps, LAST_ATTEMPT);
    expect(new Set(market.payCalls.map((p) => p.idempotencyKey)).size).toBe(1);
    const charges = await issuerCharges(h, taskId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ amount: listed, refundedAmount: listed });
    expect(await budgetOf(taskId)).toMatchObject({ spent: '0.00', reserved: '0.00' });
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture', 'refund']);
    // The capture found at the issuer and the refund count in the budget use like any other movement.
    await expectBudgetUseOfLedger(h, taskId);
  });
  it('trusts a receipt without an expiry for 23 hours (the marketplace keeps it 24)', async () => {
    const { taskId, companyId } = await chosenCompany('trucking');
    const before = Date.now();
    expect((await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    const expires = (await h.repos.payments.forTask(taskId))[0]!.receipt_expires_at!.getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 23 * 3600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 23 * 3600_000);
  });

  it('a receipt stored before the record could be fetched is used again: the pay call is not repeated', async () => {
    const { taskId, companyId } = await chosenCompany('cold-chain');
    market.lies.paidDetailStatus = 503;
    await expect(processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).rejects.toThrow(/503/);
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ state: 'captured' });
    market.lies.paidDetailStatus = undefined;
    expect((await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    expect(market.payCalls).toHaveLength(1);
  });

  it('a lost receipt whose pay call is now refused for good: the charge is refunded and the payment says why', async () => {
    const { taskId, companyId, listed } = await chosenCompany('logistics');
    // Charged and booked, then the process died before it stored the receipt.
    await capturedByHand(h, taskId, companyId, deps.providers);
    market.lies.payFailsAfterCharge = { status: 402, code: 'payment_required' };
    expect(await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId });
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ state: 'refunded', refunded_amount: listed });
    expect((await h.repos.payments.forTask(taskId))[0]!.last_error).toMatch(/402/);
  });

  it('a record from memory needs no marketplace at all: one it cannot serve for a while is still reused, never bought again', async () => {
    const first = await chosenCompany('lithography');
    expect((await processDetail({ taskId: first.taskId, companyId: first.companyId }, deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    const second = await chosenCompany('lithography');
    expect(second.companyId).toBe(first.companyId);
    // Down for both the probe and the paid fetch: memory does not ask it.
    market.lies.paidDetailStatus = 503;
    market.lies.probeStatus = 503;
    expect(await processDetail({ taskId: second.taskId, companyId: second.companyId }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'reused', companyId: second.companyId });
    expect(market.payCalls).toHaveLength(1);
    const reused = (await h.repos.companies.get(second.taskId, second.companyId))!;
    expect(reused.detail).toEqual((await h.repos.companies.get(first.taskId, first.companyId))!.detail);
    expect(await issuerCharges(h, second.taskId)).toEqual([]);
  });

  it('a pay call that timed out and charges later is never released early: the money stays held until the token is closed, then the late charge is refunded', async () => {
    const { taskId, companyId, listed } = await chosenCompany('biotech');
    // Our side gives up after 300 ms; the marketplace charges at 1 s, after the last attempt has ended.
    const impatient = { ...deps, providers: createProviders({ marketplaceUrl: market.url, tokenIssuerUrl: h.mocks.urls.tokenIssuer!, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 300 }) };
    market.lies.chargeAfterMs = 1_000;
    expect(await processDetail({ taskId, companyId }, impatient, LAST_ATTEMPT)).toEqual({ outcome: 'failed', companyId });
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'failed', error_code: 'timeout' });
    // Nothing at the issuer yet, but the call may still land: the price stays reserved, not released.
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('unknown');
    expect(await budgetOf(taskId)).toMatchObject({ reserved: formatMoney(listed), spent: '0.00' });
    const deadline = Date.now() + 20_000;
    while ((await issuerCharges(h, taskId)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await issuerCharges(h, taskId)).toHaveLength(1);

    // The task ends: the token is closed first, so the issuer's record is final, and it decides.
    await closeTaskMoney(h.deps, taskId);
    expect((await issuerCharges(h, taskId))[0]).toMatchObject({ amount: listed, refundedAmount: listed });
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'refunded', error_code: 'not_delivered' });
    expect(await budgetOf(taskId)).toMatchObject({ reserved: '0.00', spent: '0.00', refunded: formatMoney(listed) });
    expect((await reconcile(h.repos, h.deps.providers.issuer, taskId)).differences).toEqual([]);
  });
});

/** The other ways a provider's answer can be wrong, and what each costs (nothing, or a full refund). */
describe('detail stage: records that are free, gone, or not what was bought', () => {
  it('stores a record the marketplace gives for free, paying and reserving nothing', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'battery' });
    market.lies.free = true;
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'free', companyId: companyIds[0]! });
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    expect(company.status).toBe('bought');
    expect(company.detail).toMatchObject({ unifiedSocialCreditCode: '91310000MA1FL0000X' });
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
    expect(market.payCalls).toEqual([]);
  });

  it('marks a company the marketplace no longer knows as failed, with its code, paying nothing', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'solar' });
    market.lies.probeStatus = 404;
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'failed', companyId: companyIds[0]! });
    expect((await h.repos.companies.get(taskId, companyIds[0]!))!).toMatchObject({ status: 'failed', error_code: 'not_found' });
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('a passing outage of the probe is retried by the job, with nothing settled or held', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'solar' });
    market.lies.probeStatus = 503;
    await expect(processDetail({ taskId, companyId: companyIds[1]! }, deps, FIRST_ATTEMPT)).rejects.toMatchObject({ code: 'service_unavailable' });
    expect((await h.repos.companies.get(taskId, companyIds[1]!))!.status).toBe('found');
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('refunds in full a record without its identity (not the record that was bought)', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'fintech' });
    const listed = (await h.repos.companies.get(taskId, companyIds[0]!))!.price;
    market.lies.omit = ['name', 'unifiedSocialCreditCode'];
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'refunded', companyId: companyIds[0]! });
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    expect(company).toMatchObject({ status: 'refunded', error_code: 'bad_data', detail: null });
    expect(company.error_message).toBe('the record lacks name, unifiedSocialCreditCode; refunded');
    expect((await issuerCharges(h, taskId))[0]).toMatchObject({ amount: listed, refundedAmount: listed });
  });

  it('keeps an incomplete record and refunds each missing paid section at a quarter of the price', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'e-commerce' });
    const listed = (await h.repos.companies.get(taskId, companyIds[0]!))!.price;
    market.lies.omit = ['financials', 'riskNotes', 'contacts'];
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'bought', companyId: companyIds[0]! });
    const due = Math.floor((listed * 3) / 4);
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    expect(company.status).toBe('bought');
    expect(company.error_code).toBe('incomplete_record');
    expect(company.error_message).toBe(`missing financials, contacts, riskNotes; ${formatMoney(due)} refunded`);
    const [payment] = await h.repos.payments.forTask(taskId);
    expect(payment).toMatchObject({ state: 'delivered', refunded_amount: due, last_error: 'incomplete record: no financials, contacts, riskNotes' });
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(due);
    // Delivered again (a redelivery after a crash): the refund already made is not made twice.
    await h.database.db.updateTable('payments').set({ state: 'captured' }).where('id', '=', payment!.id).execute();
    expect((await processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(due);
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund')).toHaveLength(1);
  });

  it('a receipt it cannot read leaves the payment for the record of the issuer to settle, never guessing', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'robotics' });
    market.lies.receiptAmount = 'twelve';
    await expect(processDetail({ taskId, companyId: companyIds[0]! }, deps, FIRST_ATTEMPT)).rejects.toThrow();
    const [payment] = await h.repos.payments.forTask(taskId);
    // Not captured on the provider's word, not released either: the charge may well have landed.
    expect(payment!.state).toBe('reserved');
    expect((await issuerCharges(h, taskId))).toHaveLength(1);
  });
});
