import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../../shared/db/index.ts';
import { formatMoney } from '../../shared/money.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { sql } from 'kysely';
import { expectBudgetUseOfLedger } from '../../test/support/budget-use.ts';
import { ISSUER_KEY, openHarness, waitFor, type Harness } from '../../test/support/harness.ts';
import { budgetOf, capturedByHand, FIRST_ATTEMPT, issuerCharges, LAST_ATTEMPT, marketplaceWith, readyForDetail } from '../../test/support/stages.ts';
import type { StageDeps } from '../deps.ts';
import { refundPayment } from '../settle.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { processReport } from '../report/processor.ts';
import { processSearch } from '../search/processor.ts';
import { PermanentError } from '../../shared/errors.ts';
import { processDetail } from './processor.ts';

const first = FIRST_ATTEMPT;
const last = LAST_ATTEMPT;

/** A task ready for detail jobs (budget, theme; three companies chosen). */
const readyTask = (h: Harness, budget = '60.00', theme = 'battery') => readyForDetail(h, { budget, theme });

describe('detail processor: resumable, never pays twice', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('buys a record: 402 → reserve → pay → capture → fetch → store, with one charge', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[0]!;
    expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'bought', companyId });
    const company = (await h.repos.companies.get(taskId, companyId))!;
    expect(company.status).toBe('bought');
    expect(company.detail).toMatchObject({ name: company.name });
    const charges = await issuerCharges(h, taskId);
    expect(charges).toHaveLength(1);
    expect(charges[0]!.amount).toBe(company.price);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
    // Redelivered after it finished (crash before the job completed): nothing more happens.
    expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
  });

  it('resumes after a crash between the reservation and the pay call', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    const resource = h.deps.providers.marketplace.resourceOf(companyId);
    const reserved = await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
    expect(reserved.kind).toBe('reserved');
    await processDetail({ taskId, companyId }, h.deps, first);
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.captured).toBe(company.price);
    expect(task.reserved).toBe(0);
  });

  it('resumes after a crash once the charge landed but before the receipt was stored', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    const task = (await h.repos.tasks.get(taskId))!;
    const resource = h.deps.providers.marketplace.resourceOf(companyId);
    const key = paymentKey(taskId, resource);
    await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key });
    // The pay call went through, then the worker died before writing anything.
    await h.deps.providers.marketplace.pay({ tokenId: h.repos.tasks.tokenOf(task)!, amount: formatMoney(company.price), resource, idempotencyKey: key });
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    await processDetail({ taskId, companyId }, h.deps, first);
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    expect((await h.repos.companies.get(taskId, companyId))!.status).toBe('bought');
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'capture')).toHaveLength(1);
  });

  it('lets two deliveries of the same job race without a second charge or booking', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[1]!;
    await Promise.all([processDetail({ taskId, companyId }, h.deps, first), processDetail({ taskId, companyId }, h.deps, first)]);
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    const ledger = await h.repos.payments.ledger(taskId);
    expect(ledger.filter((l) => l.kind === 'reserve')).toHaveLength(1);
    expect(ledger.filter((l) => l.kind === 'capture')).toHaveLength(1);
  });

  it('skips a company whose price no longer fits the remaining budget, reserving nothing', async () => {
    // A theme no earlier test bought from, so no receipt can be reused.
    const { taskId, companyIds } = await readyTask(h, '60.00', 'biotech');
    // Someone else used up the budget meanwhile (another detail job of the same task).
    await h.database.db.updateTable('tasks').set({ captured: 5900 }).where('id', '=', taskId).execute();
    const out = await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first);
    expect(out.outcome).toBe('skipped');
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    expect(company.error_code).toBe('over_budget');
    expect((await h.repos.tasks.get(taskId))!.reserved).toBe(0);
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('buys nothing for a task that was cancelled', async () => {
    const { taskId, companyIds } = await readyTask(h);
    await h.repos.tasks.requestCancel(taskId, 'acme');
    expect((await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first)).outcome).toBe('skipped');
    expect(await issuerCharges(h, taskId)).toEqual([]);
  });

  it("reuses a record the same tenant bought in an earlier task, from its memory, at no cost", async () => {
    const a = await readyTask(h, '60.00', 'semiconductor');
    await processDetail({ taskId: a.taskId, companyId: a.companyIds[0]! }, h.deps, first);
    const b = await readyTask(h, '60.00', 'semiconductor');
    expect(b.companyIds[0]).toBe(a.companyIds[0]);
    expect((await processDetail({ taskId: b.taskId, companyId: b.companyIds[0]! }, h.deps, first)).outcome).toBe('reused');
    expect(await issuerCharges(h, b.taskId)).toEqual([]);
    const company = (await h.repos.companies.get(b.taskId, b.companyIds[0]!))!;
    expect(company.status).toBe('reused');
    expect(company.detail).toMatchObject({ name: company.name });
    expect((await h.repos.tasks.get(b.taskId))!.captured).toBe(0);
    // Redelivered: it stays a reuse.
    expect((await processDetail({ taskId: b.taskId, companyId: b.companyIds[0]! }, h.deps, first)).outcome).toBe('reused');
  });

  it('counts every ledger row a purchase books in the budget use, and leaves no error on a complete record', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'logistics');
    await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first);
    const ledger = await h.repos.payments.ledger(taskId);
    expect(ledger.map((l) => l.kind)).toEqual(['reserve', 'capture']);
    await expectBudgetUseOfLedger(h, taskId);
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ state: 'delivered', last_error: null, refunded_amount: 0 });
  });

  it('a cancel that lands while the company is being probed: the reservation is refused and the company skipped', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'robotics');
    const marketplace = h.deps.providers.marketplace;
    const racing: StageDeps = {
      ...h.deps,
      providers: {
        ...h.deps.providers,
        marketplace: Object.assign(Object.create(marketplace), {
          probe: async (companyId: string, signal?: AbortSignal) => {
            await h.repos.tasks.requestCancel(taskId, 'acme');
            return marketplace.probe(companyId, signal);
          },
        }),
      },
    };
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, racing, first)).toEqual({ outcome: 'skipped', companyId: companyIds[0]! });
    expect(await h.repos.companies.get(taskId, companyIds[0]!)).toMatchObject({ status: 'skipped', error_code: 'task_closed', error_message: 'the task ended before this company was bought' });
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('a cancelled task does not take a record from memory either', async () => {
    const a = await readyTask(h, '60.00', 'biotech');
    await processDetail({ taskId: a.taskId, companyId: a.companyIds[0]! }, h.deps, first);
    const b = await readyTask(h, '60.00', 'biotech');
    await h.repos.tasks.requestCancel(b.taskId, 'acme');
    expect((await processDetail({ taskId: b.taskId, companyId: b.companyIds[0]! }, h.deps, first)).outcome).toBe('skipped');
    expect(await h.repos.companies.get(b.taskId, b.companyIds[0]!)).toMatchObject({ status: 'skipped', error_code: 'task_closed' });
    expect(await h.repos.payments.forTask(b.taskId)).toEqual([]);
  });

  it('a payment refunded before its company was settled (a crash in between) settles the company refunded, with the reason', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'fintech');
    const companyId = companyIds[0]!;
    const { payment } = await capturedByHand(h, taskId, companyId);
    await h.repos.payments.noteError(payment.id, 'the record kept failing');
    await refundPayment(h.deps, (await h.repos.payments.get(payment.id))!);
    expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'refunded', companyId });
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'refunded', error_code: 'refunded', error_message: 'the record kept failing' });
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
  });

  it('a company marked failed whose payment was refunded is shown refunded: the money went back', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'cell-therapy');
    const companyId = companyIds[0]!;
    const { payment } = await capturedByHand(h, taskId, companyId);
    await refundPayment(h.deps, (await h.repos.payments.get(payment.id))!);
    await h.repos.companies.settle(taskId, companyId, 'failed', { error: { code: 'bad_data', message: 'unreadable' } });
    expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'refunded', companyId });
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'refunded', error_code: 'refunded', error_message: 'refunded' });
  });

  it('an unexpected error while fetching the record, on the last attempt, refunds the charge and names it internal_error', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'vaccines');
    const companyId = companyIds[0]!;
    const marketplace = h.deps.providers.marketplace;
    const broken: StageDeps = {
      ...h.deps,
      providers: { ...h.deps.providers, marketplace: Object.assign(Object.create(marketplace), { fetchDetail: async () => { throw new Error('a bug of ours'); } }) },
    };
    expect(await processDetail({ taskId, companyId }, broken, last)).toEqual({ outcome: 'refunded', companyId });
    const settled = (await h.repos.companies.get(taskId, companyId))!;
    expect(settled).toMatchObject({ status: 'refunded', error_code: 'internal_error', error_message: 'a bug of ours; refunded' });
    expect((await issuerCharges(h, taskId))[0]).toMatchObject({ refundedAmount: settled.price });
  });

  it('a reservation on a task that never got its token fails for good (no_token), paying nothing', async () => {
    const res = await h.api('/v1/tasks', { body: { theme: 'solar', budget: '30.00', voiceId: 'demo-voice' } });
    const { id: taskId } = (await res.json()) as { id: string };
    await processSearch({ taskId }, h.deps, first);
    const company = (await h.repos.companies.chosen(taskId))[0]!;
    const resource = h.deps.providers.marketplace.resourceOf(company.company_id);
    await h.repos.payments.reserve({ taskId, companyId: company.company_id, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
    const failed = processDetail({ taskId, companyId: company.company_id }, h.deps, first);
    await expect(failed).rejects.toBeInstanceOf(PermanentError);
    await expect(failed).rejects.toMatchObject({ code: 'no_token', message: `task ${taskId} has no payment token` });
    expect(await issuerCharges(h, taskId)).toEqual([]);
  });

  it('a pay call that cannot reach the marketplace on the last attempt keeps the money held: the call may have gone out', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'e-commerce');
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    const resource = h.deps.providers.marketplace.resourceOf(companyId);
    await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
    // Nothing listens on port 9: every call is refused before an answer.
    const unreachable: StageDeps = { ...h.deps, providers: { ...h.deps.providers, marketplace: createProviders({ marketplaceUrl: 'http://127.0.0.1:9', tokenIssuerUrl: h.mocks.urls.tokenIssuer!, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 1_000 }).marketplace } };
    expect(await processDetail({ taskId, companyId }, unreachable, last)).toEqual({ outcome: 'failed', companyId });
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'failed', error_code: 'unreachable' });
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('unknown');
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: formatMoney(company.price) });
    // The task's end settles it by the issuer's record: nothing was charged, so it is released.
    await processReport({ taskId }, h.deps, first);
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('released');
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: '0.00', spent: '0.00' });
  });
});

describe('detail processor: a pay call whose outcome is unknown', () => {
  let h: Harness;
  let healthy: Awaited<ReturnType<typeof marketplaceWith>>;
  let healthyDeps: StageDeps;
  beforeAll(async () => {
    // The harness's marketplace charges, then hangs past our time limit: we cannot know if it charged.
    h = await openHarness({ faults: { pay_timeout: 1, timeout_hang_ms: 2_000, seed: 1 }, env: { PROVIDER_TIMEOUT_MS: '400' } });
    // A second, healthy marketplace for the retry.
    healthy = await marketplaceWith(h, {});
    healthyDeps = healthy.deps;
  });
  afterAll(async () => {
    await healthy?.close();
    await h?.close();
  });

  it('asks the issuer: the charge exists, so it is booked as captured; the retry gets the receipt, one charge in all', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[0]!;
    await expect(processDetail({ taskId, companyId }, h.deps, first)).rejects.toThrow(/timed out/);
    const payment = (await h.repos.payments.forTask(taskId))[0]!;
    expect(payment.state).toBe('captured');
    expect(payment.charge_id).not.toBeNull();
    expect(payment.receipt).toBeNull();
    expect(await processDetail({ taskId, companyId }, healthyDeps, { attempt: 2, isFinalAttempt: false })).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
  });

  it('refunds the charge when no retry is left, and books the refund', async () => {
    const { taskId, companyIds } = await readyTask(h);
    const companyId = companyIds[1]!;
    expect(await processDetail({ taskId, companyId }, h.deps, last)).toEqual({ outcome: 'refunded', companyId });
    const charges = await issuerCharges(h, taskId);
    expect(charges).toHaveLength(1);
    expect(charges[0]!.refundedAmount).toBe(charges[0]!.amount);
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.captured - task.refunded).toBe(0);
    expect(task.reserved).toBe(0);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture', 'refund']);
  });
});

/** The task's money as the API shows it, read straight after a job returned (before any report runs). */

describe('detail processor: a charge whose record never arrives is refunded by the detail stage itself', () => {
  let h: Harness;
  let deadMarket: Awaited<ReturnType<typeof marketplaceWith>>;
  let badData: Awaited<ReturnType<typeof marketplaceWith>>;
  beforeAll(async () => {
    // The harness's marketplace never delivers a paid record (503 on every paid fetch).
    h = await openHarness({ faults: { detail_gone: 1 } });
    // Every request to this one answers 503: the pay call never reaches the issuer.
    deadMarket = await marketplaceWith(h, { error_5xx: 1 });
    // This one delivers records without their attributes: a permanent failure after the charge.
    badData = await marketplaceWith(h, { detail_bad_data: 1 });
  });
  afterAll(async () => {
    await deadMarket?.close();
    await badData?.close();
    await h?.close();
  });

  it('keeps the charge while retries are left, then refunds it in full on the last attempt, before the report', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'logistics');
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    await expect(processDetail({ taskId, companyId }, h.deps, first)).rejects.toThrow(/503/);
    // Charged, record not yet delivered: the money is spent while a retry may still deliver.
    expect(await budgetOf(h, taskId)).toMatchObject({ spent: formatMoney(company.price), reserved: '0.00', refunded: '0.00' });
    expect((await h.repos.companies.get(taskId, companyId))!.status).toBe('found');

    expect(await processDetail({ taskId, companyId }, h.deps, last)).toEqual({ outcome: 'refunded', companyId });
    // Straight after the job, not at the end of the task: the whole price is back in the budget.
    expect(await budgetOf(h, taskId)).toMatchObject({ limit: '60.00', spent: '0.00', reserved: '0.00', refunded: formatMoney(company.price), remaining: '60.00' });
    const settled = (await h.repos.companies.get(taskId, companyId))!;
    expect(settled.status).toBe('refunded');
    expect(settled.error_code).toBe('service_unavailable');
    const [payment] = await h.repos.payments.forTask(taskId);
    expect(payment).toMatchObject({ state: 'refunded', refunded_amount: company.price });
    const charges = await issuerCharges(h, taskId);
    expect(charges).toHaveLength(1);
    expect(charges[0]!.refundedAmount).toBe(company.price);
    expect((await h.repos.payments.ledger(taskId)).map((l) => [l.kind, l.amount])).toEqual([
      ['reserve', company.price],
      ['capture', company.price],
      ['refund', company.price],
    ]);
    // Redelivered after the refund: nothing more moves.
    expect(await processDetail({ taskId, companyId }, h.deps, last)).toEqual({ outcome: 'refunded', companyId });
    expect((await h.repos.payments.ledger(taskId))).toHaveLength(3);
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(company.price);
  });

  it('refunds only what is left when part of the charge was already refunded', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'logistics');
    const companyId = companyIds[1]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    await expect(processDetail({ taskId, companyId }, h.deps, first)).rejects.toThrow(/503/);
    // An earlier attempt refunded a part (an incomplete record), then died before settling the company.
    const captured = (await h.repos.payments.forTask(taskId))[0]!;
    await refundPayment(h.deps, captured, 100);
    expect(await processDetail({ taskId, companyId }, h.deps, last)).toEqual({ outcome: 'refunded', companyId });
    const charge = (await issuerCharges(h, taskId))[0]!;
    expect(charge.refundedAmount).toBe(company.price);
    expect((await h.repos.payments.ledger(taskId)).filter((l) => l.kind === 'refund').map((l) => l.amount)).toEqual([100, company.price - 100]);
    expect(await budgetOf(h, taskId)).toMatchObject({ spent: '0.00', refunded: formatMoney(company.price), remaining: '60.00' });
  });

  it('refunds at once, on the first attempt, a delivery that can never be right', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'fintech');
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    expect(await processDetail({ taskId, companyId }, badData.deps, first)).toEqual({ outcome: 'refunded', companyId });
    expect((await h.repos.companies.get(taskId, companyId))!.error_code).toBe('bad_data');
    expect(await budgetOf(h, taskId)).toMatchObject({ spent: '0.00', refunded: formatMoney(company.price), remaining: '60.00' });
    expect((await issuerCharges(h, taskId))[0]!.refundedAmount).toBe(company.price);
  });

  it('a pay call that never reached the issuer holds the money as unknown, then releases it on the last attempt', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'solar');
    const companyId = companyIds[0]!;
    const company = (await h.repos.companies.get(taskId, companyId))!;
    const resource = h.deps.providers.marketplace.resourceOf(companyId);
    // Reserved by an earlier attempt (the probe went through), then the marketplace went down.
    await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
    await expect(processDetail({ taskId, companyId }, deadMarket.deps, first)).rejects.toThrow(/503/);
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('unknown');
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: formatMoney(company.price), spent: '0.00' });

    expect(await processDetail({ taskId, companyId }, deadMarket.deps, last)).toEqual({ outcome: 'failed', companyId });
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('released');
    expect(await h.repos.companies.get(taskId, companyId)).toMatchObject({ status: 'failed', error_code: 'service_unavailable' });
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: '0.00', spent: '0.00', remaining: '60.00' });
    expect(await issuerCharges(h, taskId)).toEqual([]);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'release']);
    await expectBudgetUseOfLedger(h, taskId);
  });

  it('a pay call the issuer declines for good releases the reservation at once', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'solar');
    const companyId = companyIds[1]!;
    const task = (await h.repos.tasks.get(taskId))!;
    // The token is closed at the issuer (e.g. by an operator): the marketplace's charge is refused with 409.
    await h.deps.providers.issuer.close(h.repos.tasks.tokenOf(task)!);
    expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'failed', companyId });
    expect((await h.repos.companies.get(taskId, companyId))!.error_code).toBe('token_closed');
    expect((await h.repos.payments.forTask(taskId))[0]!.state).toBe('released');
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: '0.00', spent: '0.00', remaining: '60.00' });
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'release']);
  });
});

describe('detail processor: a token that expires before the task ends', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { TOKEN_TTL_SECONDS: '1' } });
  });
  afterAll(async () => h?.close());

  it('skips the company with token_expired, holds nothing, and the task still ends normally with its money closed', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'robotics', budget: '60.00' });
    const token = (await h.deps.providers.issuer.tokensFor(taskId))[0]!;
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(token.expiresAt) - Date.now()) + 200));
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first)).toEqual({ outcome: 'skipped', companyId: companyIds[0]! });
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    expect(company.status).toBe('skipped');
    expect(company.error_code).toBe('token_expired');
    expect(company.error_message).toBe('the payment token expired before this company was bought');
    expect((await h.repos.payments.forTask(taskId)).map((p) => p.state)).toEqual(['released']);
    expect(await budgetOf(h, taskId)).toMatchObject({ reserved: '0.00', spent: '0.00', remaining: '60.00' });

    for (const companyId of companyIds.slice(1)) await processDetail({ taskId, companyId }, h.deps, first);
    await processReport({ taskId }, h.deps, first);
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.status).toBe('completed');
    expect((await h.deps.providers.issuer.tokensFor(taskId))[0]!.status).toBe('closed');
    expect((await reconcile(h.repos, h.deps.providers.issuer, taskId)).differences).toEqual([]);
  });
});

describe('detail processor: jobs that find nothing to do', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('a job for a task or company we do not know does nothing', async () => {
    const { taskId } = await readyTask(h, '60.00', 'battery');
    expect(await processDetail({ taskId: '00000000-0000-4000-8000-000000000000', companyId: 'x' }, h.deps, first)).toEqual({ outcome: 'missing', companyId: 'x' });
    expect(await processDetail({ taskId, companyId: 'no-such-company' }, h.deps, first)).toEqual({ outcome: 'missing', companyId: 'no-such-company' });
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('a company already settled without a payment keeps its outcome', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'battery');
    await h.repos.companies.settle(taskId, companyIds[0]!, 'skipped', { error: { code: 'over_budget', message: 'no room' } });
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first)).toEqual({ outcome: 'skipped', companyId: companyIds[0]! });
    expect(await issuerCharges(h, taskId)).toEqual([]);
  });

  it('a task that already ended buys nothing more, and says why', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'semiconductor');
    await h.repos.tasks.end(taskId, 'failed', { code: 'x', message: 'ended elsewhere' });
    expect(await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first)).toEqual({ outcome: 'skipped', companyId: companyIds[0]! });
    expect(await h.repos.companies.get(taskId, companyIds[0]!)).toMatchObject({ status: 'skipped', error_code: 'task_closed', error_message: 'the task ended before this company was bought' });
    expect(await h.repos.payments.forTask(taskId)).toEqual([]);
  });

  it('says how far over budget a skipped company was', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'robotics');
    await h.database.db.updateTable('tasks').set({ captured: 5950 }).where('id', '=', taskId).execute();
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    await processDetail({ taskId, companyId: company.company_id }, h.deps, first);
    expect((await h.repos.companies.get(taskId, company.company_id))!.error_message).toBe(`price ${formatMoney(company.price)} exceeds the remaining budget 0.50`);
  });

  it('keeps the receipt until an hour before the marketplace stops taking it', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'fintech');
    const before = Date.now();
    await processDetail({ taskId, companyId: companyIds[0]! }, h.deps, first);
    const [payment] = await h.repos.payments.forTask(taskId);
    const trustedFor = payment!.receipt_expires_at!.getTime() - before;
    // The marketplace's receipts live 24 h; we stop trusting one at 23 h.
    expect(trustedFor).toBeGreaterThan(23 * 3600_000 - 60_000);
    expect(trustedFor).toBeLessThanOrEqual(23 * 3600_000 + 1_000);
  });

  it('a redelivered job of a released payment reports it released and changes nothing', async () => {
    const { taskId, companyIds } = await readyTask(h, '60.00', 'e-commerce');
    const company = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    const resource = h.deps.providers.marketplace.resourceOf(company.company_id);
    const reserved = await h.repos.payments.reserve({ taskId, companyId: company.company_id, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
    if (reserved.kind !== 'reserved') throw new Error('expected a reservation');
    await h.repos.payments.release(reserved.payment.id, 'the marketplace was down');
    expect(await processDetail({ taskId, companyId: company.company_id }, h.deps, first)).toEqual({ outcome: 'released', companyId: company.company_id });
    expect(await h.repos.companies.get(taskId, company.company_id)).toMatchObject({ status: 'failed', error_code: 'not_paid', error_message: 'the marketplace was down' });
    expect(await issuerCharges(h, taskId)).toEqual([]);
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'release']);
  });
});

/**
 * The tenant's memory (issue 11): a record bought within the task's freshness window is used at no cost,
 * whatever became of its receipt; an older one, or any with `maxAge: 0`, is bought again; another tenant's
 * never. Two tasks of one tenant buying the same company at once buy it once — unless the first purchase
 * fails, or takes longer than the wait.
 */
describe("detail processor: the tenant's memory", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  /** Ages every memory record of a company (the clock moved on). */
  const age = (companyId: string, seconds: number) =>
    sql`update memory_records set bought_at = now() - make_interval(secs => ${seconds}) where company_id = ${companyId}`.execute(h.database.db);

  it('uses a remembered record at no cost, linked to its purchase, though its receipt is revoked and deleted', async () => {
    const a = await readyForDetail(h, { theme: 'semiconductor' });
    const companyId = a.companyIds[0]!;
    await processDetail({ taskId: a.taskId, companyId }, h.deps, first);
    const [source] = await h.repos.payments.forTask(a.taskId);
    // The receipt is worth nothing now: refused by the marketplace, then deleted by us.
    await h.repos.payments.attachReceipt(source!.id, { receiptId: source!.receipt_id!, receipt: 'revoked-receipt', expiresAt: new Date(Date.now() - 1000) });
    expect(await h.repos.payments.purgeExpiredReceipts()).toBeGreaterThanOrEqual(1);

    const b = await readyForDetail(h, { theme: 'semiconductor' });
    expect(b.companyIds[0]).toBe(companyId);
    expect(await processDetail({ taskId: b.taskId, companyId }, h.deps, first)).toEqual({ outcome: 'reused', companyId });
    expect(await issuerCharges(h, b.taskId)).toEqual([]);
    const reused = (await h.repos.companies.get(b.taskId, companyId))!;
    expect(reused).toMatchObject({ status: 'reused', receipt_id: source!.receipt_id });
    expect(reused.detail).toEqual((await h.repos.companies.get(a.taskId, companyId))!.detail);
    expect(await h.repos.payments.forTask(b.taskId)).toEqual([expect.objectContaining({ amount: 0, state: 'delivered', reused_payment_id: source!.id, receipt_id: source!.receipt_id })]);
    expect(await h.repos.payments.ledger(b.taskId)).toEqual([]);
    expect((await h.repos.tasks.get(b.taskId))!).toMatchObject({ captured: 0, reserved: 0 });
  });

  it('buys again a record older than the default window (MEMORY_MAX_AGE), and remembers the new purchase', async () => {
    const a = await readyForDetail(h, { theme: 'logistics' });
    const companyId = a.companyIds[0]!;
    await processDetail({ taskId: a.taskId, companyId }, h.deps, first);
    await age(companyId, h.deps.memory.maxAgeSeconds + 60);
    const b = await readyForDetail(h, { theme: 'logistics' });
    expect(await processDetail({ taskId: b.taskId, companyId }, h.deps, first)).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, b.taskId)).toHaveLength(1);
    expect((await h.repos.memory.newest('acme', companyId))!.taskId).toBe(b.taskId);
    expect(await h.repos.memory.count('acme', companyId)).toBe(2);
  });

  it("uses a record inside the default window; a task's own maxAge narrows the window, and 0 always buys", async () => {
    const a = await readyForDetail(h, { theme: 'robotics' });
    const companyId = a.companyIds[0]!;
    await processDetail({ taskId: a.taskId, companyId }, h.deps, first);
    await age(companyId, h.deps.memory.maxAgeSeconds - 3600);
    const inside = await readyForDetail(h, { theme: 'robotics' });
    expect((await processDetail({ taskId: inside.taskId, companyId }, h.deps, first)).outcome).toBe('reused');

    const narrow = await readyForDetail(h, { theme: 'robotics', maxAge: 3600 });
    expect((await processDetail({ taskId: narrow.taskId, companyId }, h.deps, first)).outcome).toBe('bought');
    expect(await issuerCharges(h, narrow.taskId)).toHaveLength(1);

    // Bought a moment ago by `narrow`: fresh for any window, but maxAge 0 buys all the same.
    const always = await readyForDetail(h, { theme: 'robotics', maxAge: 0 });
    expect((await processDetail({ taskId: always.taskId, companyId }, h.deps, first)).outcome).toBe('bought');
    expect(await issuerCharges(h, always.taskId)).toHaveLength(1);
  });

  it("never uses another tenant's record", async () => {
    const a = await readyForDetail(h, { theme: 'fintech' });
    const companyId = a.companyIds[0]!;
    await processDetail({ taskId: a.taskId, companyId }, h.deps, first);
    const other = await readyForDetail(h, { theme: 'fintech', headers: { authorization: 'Bearer other-key' } });
    expect(other.companyIds[0]).toBe(companyId);
    expect(await processDetail({ taskId: other.taskId, companyId }, h.deps, first)).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, other.taskId)).toHaveLength(1);
    expect((await h.repos.memory.newest('other', companyId))!.taskId).toBe(other.taskId);
    expect((await h.repos.memory.newest('acme', companyId))!.taskId).toBe(a.taskId);
  });

  /**
   * Two tasks of the tenant on one company: the first holds its pay call until `release` is called,
   * the second is started once the first holds the claim and comes back from the first time it found
   * the claim held. `waitMs` is the second's wait.
   */
  async function race(theme: string, waitMs: number) {
    const a = await readyForDetail(h, { theme });
    const b = await readyForDetail(h, { theme });
    const companyId = a.companyIds[0]!;
    expect(b.companyIds[0]).toBe(companyId);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const marketplace = h.deps.providers.marketplace;
    const holding: StageDeps = {
      ...h.deps,
      providers: { ...h.deps.providers, marketplace: Object.assign(Object.create(marketplace), { pay: async (...args: Parameters<typeof marketplace.pay>) => (await gate, marketplace.pay(...args)) }) },
    };
    const holder = processDetail({ taskId: a.taskId, companyId }, holding, first);
    await waitFor(async () => ((await h.repos.payments.forTask(a.taskId)).length ? true : undefined), 'the first task to reserve');
    let sawHeld!: () => void;
    const held = new Promise<void>((r) => (sawHeld = r));
    const payments = Object.assign(Object.create(h.repos.payments), {
      claimAndReserve: async (...args: Parameters<typeof h.repos.payments.claimAndReserve>) => {
        const answer = await h.repos.payments.claimAndReserve(...args);
        if (answer.kind === 'held') sawHeld();
        return answer;
      },
    });
    const waiting: StageDeps = { ...h.deps, repos: { ...h.deps.repos, payments }, memory: { ...h.deps.memory, waitMs } };
    const waiter = processDetail({ taskId: b.taskId, companyId }, waiting, first);
    await held;
    return { a, b, companyId, holder, waiter, release };
  }

  it('two tasks buying one company at once buy it once: the second waits for the first purchase and reuses it', async () => {
    // A wait far longer than the test may take: the second must end as soon as the first delivered.
    const { a, b, companyId, holder, waiter, release } = await race('biotech', 120_000);
    release();
    expect(await holder).toEqual({ outcome: 'bought', companyId });
    expect(await waiter).toEqual({ outcome: 'reused', companyId });
    expect(await issuerCharges(h, a.taskId)).toHaveLength(1);
    expect(await issuerCharges(h, b.taskId)).toEqual([]);
    const [bought] = await h.repos.payments.forTask(a.taskId);
    expect((await h.repos.payments.forTask(b.taskId))[0]).toMatchObject({ amount: 0, reused_payment_id: bought!.id });
  });

  it('a first purchase that fails does not block the second: it buys on its own at once', async () => {
    const { a, b, companyId, holder, waiter, release } = await race('solar', 120_000);
    // The first task's token is closed at the issuer: its pay call is declined for good.
    await h.deps.providers.issuer.close(h.repos.tasks.tokenOf((await h.repos.tasks.get(a.taskId))!)!);
    release();
    expect(await holder).toEqual({ outcome: 'failed', companyId });
    expect(await waiter).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, a.taskId)).toEqual([]);
    expect(await issuerCharges(h, b.taskId)).toHaveLength(1);
    expect((await h.repos.memory.newest('acme', companyId))!.taskId).toBe(b.taskId);
  });

  it('a first purchase still in flight after the wait (the provider time-out): the second buys on its own', async () => {
    const { a, b, companyId, holder, waiter, release } = await race('e-commerce', 300);
    expect(await waiter).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, b.taskId)).toHaveLength(1);
    // The first was still paying: its purchase goes through too, each within its own task's budget.
    release();
    expect(await holder).toEqual({ outcome: 'bought', companyId });
    expect(await issuerCharges(h, a.taskId)).toHaveLength(1);
    expect(await h.repos.memory.count('acme', companyId)).toBe(2);
  });
});
