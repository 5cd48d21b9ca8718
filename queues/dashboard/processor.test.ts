import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../../shared/db/index.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import type { JobContext } from '../deps.ts';
import { processSearch } from '../search/processor.ts';
import { processDashboard } from './processor.ts';

const first: JobContext = { attempt: 1, isFinalAttempt: false };

/** A running task with one reservation booked: its ledger row is what the dashboard counts. */
async function reservedPayment(h: Harness, theme: string) {
  const taskId = await postTask(h, { theme, budget: '50.00', voiceId: 'demo-voice', maxCompanies: 2 });
  await processSearch({ taskId }, h.deps, first);
  const company = (await h.repos.companies.chosen(taskId))[0]!;
  const resource = h.deps.providers.marketplace.resourceOf(company.company_id);
  const reserved = await h.repos.payments.reserve({ taskId, companyId: company.company_id, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
  if (reserved.kind !== 'reserved') throw new Error(`expected a reservation, got ${reserved.kind}`);
  expect(reserved.ledgerEntryIds).toHaveLength(1);
  const entry = (await h.repos.payments.ledger(taskId)).find((l) => l.id === reserved.ledgerEntryIds[0])!;
  return { taskId, payment: reserved.payment, entry, day: entry.created_at.toISOString().slice(0, 10) };
}

/** The tenant's aggregates for one UTC day (zeros when nothing was counted yet). */
async function dayOf(h: Harness, tenant: string, day: string) {
  const row = (await h.repos.dashboard.daily(tenant)).find((r) => r.day === day);
  return { reserved: Number(row?.reserved ?? 0), captured: Number(row?.captured ?? 0), released: Number(row?.released ?? 0), refunded: Number(row?.refunded ?? 0), events: Number(row?.events ?? 0) };
}

async function usageOf(h: Harness, taskId: string) {
  const row = await h.repos.dashboard.forTask(taskId);
  return row && { reserved: Number(row.reserved), captured: Number(row.captured), released: Number(row.released), refunded: Number(row.refunded), events: Number(row.events) };
}

describe('dashboard processor: each ledger movement counted exactly once', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('counts a ledger entry into budget_usage and budget_usage_daily, and a second delivery changes nothing', async () => {
    const { taskId, entry, day } = await reservedPayment(h, 'battery');
    expect(entry.kind).toBe('reserve');
    const dayBefore = await dayOf(h, 'acme', day);
    expect(await usageOf(h, taskId)).toBeUndefined();

    expect(await processDashboard({ ledgerEntryId: entry.id }, h.deps, first)).toEqual({ ledgerEntryId: entry.id, applied: true });

    const usage = await usageOf(h, taskId);
    expect(usage).toEqual({ reserved: entry.amount, captured: 0, released: 0, refunded: 0, events: 1 });
    const dayAfter = await dayOf(h, 'acme', day);
    expect(dayAfter).toEqual({ ...dayBefore, reserved: dayBefore.reserved + entry.amount, events: dayBefore.events + 1 });

    // The same event delivered again (a retry, the sweeper re-queuing it): not counted again.
    expect(await processDashboard({ ledgerEntryId: entry.id }, h.deps, first)).toEqual({ ledgerEntryId: entry.id, applied: false });
    expect(await usageOf(h, taskId)).toEqual(usage);
    expect(await dayOf(h, 'acme', day)).toEqual(dayAfter);
  });

  it('counts each kind of movement into its own column', async () => {
    const { taskId, payment, entry, day } = await reservedPayment(h, 'solar');
    const released = await h.repos.payments.release(payment.id, 'not needed');
    expect(released?.ledgerEntryIds).toHaveLength(1);
    const releaseId = released!.ledgerEntryIds[0]!;
    const dayBefore = await dayOf(h, 'acme', day);

    await processDashboard({ ledgerEntryId: entry.id }, h.deps, first);
    await processDashboard({ ledgerEntryId: releaseId }, h.deps, first);

    expect(await usageOf(h, taskId)).toEqual({ reserved: payment.amount, captured: 0, released: payment.amount, refunded: 0, events: 2 });
    const dayAfter = await dayOf(h, 'acme', day);
    expect(dayAfter.reserved - dayBefore.reserved).toBe(payment.amount);
    expect(dayAfter.released - dayBefore.released).toBe(payment.amount);
    expect(dayAfter.events - dayBefore.events).toBe(2);
  });

  it('counts an event once when two deliveries of it run at the same time', async () => {
    const { taskId, entry, day } = await reservedPayment(h, 'logistics');
    const dayBefore = await dayOf(h, 'acme', day);

    const results = (await Promise.all([
      processDashboard({ ledgerEntryId: entry.id }, h.deps, first),
      processDashboard({ ledgerEntryId: entry.id }, h.deps, first),
    ])) as Array<{ ledgerEntryId: number; applied: boolean }>;

    expect(results.map((r) => r.applied).sort()).toEqual([false, true]);
    expect(await usageOf(h, taskId)).toEqual({ reserved: entry.amount, captured: 0, released: 0, refunded: 0, events: 1 });
    expect(await dayOf(h, 'acme', day)).toEqual({ ...dayBefore, reserved: dayBefore.reserved + entry.amount, events: dayBefore.events + 1 });
  });
});
