import { sql } from 'kysely';
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

/**
 * A ledger row as rows were written before budget use was counted with the movement (migration
 * 2026_11_29_050): no trigger ran, so nothing counted it and no mark says it was. Such rows are what the
 * dashboard queue still counts (the sweeper sends every row without a mark).
 */
async function uncountedRow(h: Harness, taskId: string, paymentId: number, amount: number): Promise<number> {
  return h.database.db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    const row = await trx
      .insertInto('ledger_entries')
      .values({ task_id: taskId, payment_id: paymentId, kind: 'capture', amount, event_key: `legacy-${paymentId}` })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  });
}

describe('budget use: each ledger movement counted exactly once', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('is counted in the transaction that books the movement: the task and the tenant-day show it as soon as it commits, with no job', async () => {
    const dayBefore = await dayOf(h, 'acme', new Date().toISOString().slice(0, 10));
    const { taskId, entry, day } = await reservedPayment(h, 'battery');
    expect(entry.kind).toBe('reserve');
    expect(await usageOf(h, taskId)).toEqual({ reserved: entry.amount, captured: 0, released: 0, refunded: 0, events: 1 });
    expect(await dayOf(h, 'acme', day)).toEqual({ ...dayBefore, reserved: dayBefore.reserved + entry.amount, events: dayBefore.events + 1 });
    expect(await h.producer.queues.dashboard.count()).toBe(0);
    // Marked as counted, so a delivery of it (the sweeper's, a stale job) changes nothing.
    expect(await processDashboard({ ledgerEntryId: entry.id }, h.deps, first)).toEqual({ ledgerEntryId: entry.id, applied: false });
    expect(await usageOf(h, taskId)).toEqual({ reserved: entry.amount, captured: 0, released: 0, refunded: 0, events: 1 });
    expect(await h.repos.payments.unappliedLedger(0)).not.toContain(entry.id);
  });

  it('counts each kind of movement into its own column', async () => {
    const { taskId, payment, day } = await reservedPayment(h, 'solar');
    const dayBefore = await dayOf(h, 'acme', day);
    const released = await h.repos.payments.release(payment.id, 'not needed');
    expect(released?.ledgerEntryIds).toHaveLength(1);
    expect(await usageOf(h, taskId)).toEqual({ reserved: payment.amount, captured: 0, released: payment.amount, refunded: 0, events: 2 });
    const dayAfter = await dayOf(h, 'acme', day);
    expect(dayAfter).toEqual({ ...dayBefore, released: dayBefore.released + payment.amount, events: dayBefore.events + 1 });
  });

  it("is not counted when the movement's transaction rolls back", async () => {
    const { taskId, payment, day } = await reservedPayment(h, 'robotics');
    const usageBefore = await usageOf(h, taskId);
    const dayBefore = await dayOf(h, 'acme', day);
    await expect(
      h.database.db.transaction().execute(async (trx) => {
        await trx.insertInto('ledger_entries').values({ task_id: taskId, payment_id: payment.id, kind: 'capture', amount: payment.amount, event_key: `rolled-back-${payment.id}` }).execute();
        throw new Error('the movement fails after its ledger row');
      }),
    ).rejects.toThrow('the movement fails');
    expect(await usageOf(h, taskId)).toEqual(usageBefore);
    expect(await dayOf(h, 'acme', day)).toEqual(dayBefore);
  });

  it('a row booked before the movement counted itself is counted by the dashboard queue, once however often delivered', async () => {
    const { taskId, payment, day } = await reservedPayment(h, 'biotech');
    const legacy = await uncountedRow(h, taskId, payment.id, payment.amount);
    const dayBefore = await dayOf(h, 'acme', day);
    expect(await h.repos.payments.unappliedLedger(0)).toContain(legacy);

    expect(await processDashboard({ ledgerEntryId: legacy }, h.deps, first)).toEqual({ ledgerEntryId: legacy, applied: true });
    expect(await usageOf(h, taskId)).toEqual({ reserved: payment.amount, captured: payment.amount, released: 0, refunded: 0, events: 2 });
    const dayAfter = await dayOf(h, 'acme', day);
    expect(dayAfter).toEqual({ ...dayBefore, captured: dayBefore.captured + payment.amount, events: dayBefore.events + 1 });

    // The same event delivered again (a retry, the sweeper re-queuing it): not counted again.
    expect(await processDashboard({ ledgerEntryId: legacy }, h.deps, first)).toEqual({ ledgerEntryId: legacy, applied: false });
    expect(await dayOf(h, 'acme', day)).toEqual(dayAfter);
    expect(await h.repos.payments.unappliedLedger(0)).not.toContain(legacy);
  });

  it('counts an uncounted row once when two deliveries of it run at the same time', async () => {
    const { taskId, payment, day } = await reservedPayment(h, 'logistics');
    const legacy = await uncountedRow(h, taskId, payment.id, payment.amount);
    const dayBefore = await dayOf(h, 'acme', day);

    const results = (await Promise.all([
      processDashboard({ ledgerEntryId: legacy }, h.deps, first),
      processDashboard({ ledgerEntryId: legacy }, h.deps, first),
    ])) as Array<{ ledgerEntryId: number; applied: boolean }>;

    expect(results.map((r) => r.applied).sort()).toEqual([false, true]);
    expect(await usageOf(h, taskId)).toEqual({ reserved: payment.amount, captured: payment.amount, released: 0, refunded: 0, events: 2 });
    expect(await dayOf(h, 'acme', day)).toEqual({ ...dayBefore, captured: dayBefore.captured + payment.amount, events: dayBefore.events + 1 });
  });
});
