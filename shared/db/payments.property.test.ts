import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { openDatabase } from './connect.ts';
import { paymentKey, repositories, type Payment, type Repositories, type Task } from './index.ts';
import type { ReserveResult } from './payments.ts';
import { keyringFrom } from '../crypto/keyring.ts';

/**
 * The reservation logic against the real database (PGlite in memory, or Postgres with DATABASE_URL):
 * limit ≥ spent + reserved at every instant under any concurrency (DESIGN §3), every money movement
 * booked exactly once, and the task's buckets always equal to the sums of its payments and ledger.
 */

const TENANT = 'acme';
let h: Harness;

beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

/** A task with the given budget, moved to `running` (stage detail) as the detail stage finds it unless `enter` is false. */
async function runningTask(repos: Repositories, limit: number, enter = true, tenant = TENANT): Promise<string> {
  const id = randomUUID();
  const created = await repos.tasks.create({
    id,
    tenant,
    idempotency_key: null,
    request_hash: null,
    theme: 'battery',
    voice_id: 'demo-voice',
    currency: 'CNY',
    max_companies: 20,
    status: 'queued',
    stage: null,
    budget_limit: limit,
    token_id: null,
    error_code: null,
    error_message: null,
    ended_at: null,
  });
  expect(created.kind).toBe('created');
  if (enter) expect(await repos.tasks.enterStage(id, 'detail')).toBeDefined();
  return id;
}

function reserveInput(taskId: string, companyId: string, amount: number) {
  const resource = `/company/detail?id=${companyId}`;
  return { taskId, companyId, tenant: TENANT, resource, amount, key: paymentKey(taskId, resource) };
}

async function task(id: string): Promise<Task> {
  return (await h.repos.tasks.get(id))!;
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const OPEN_STATES = ['reserved', 'unknown'];
const CAPTURED_STATES = ['captured', 'delivered', 'refunded'];

/**
 * The books of one task agree with themselves: buckets = sums over payments = sums over the ledger,
 * one ledger row per movement, and the money rule holds.
 */
async function expectConsistentBooks(taskId: string): Promise<{ task: Task; payments: Payment[] }> {
  const t = await task(taskId);
  const payments = await h.repos.payments.forTask(taskId);
  const ledger = await h.repos.payments.ledger(taskId);

  // The money rule (also a CHECK in the database).
  expect(t.captured - t.refunded + t.reserved).toBeLessThanOrEqual(t.budget_limit);
  expect(t.reserved).toBeGreaterThanOrEqual(0);
  expect(t.refunded).toBeGreaterThanOrEqual(0);
  expect(t.refunded).toBeLessThanOrEqual(t.captured);

  // Buckets = sums over the payments' states.
  expect(t.reserved).toBe(sum(payments.filter((p) => OPEN_STATES.includes(p.state)).map((p) => p.amount)));
  expect(t.captured).toBe(sum(payments.filter((p) => CAPTURED_STATES.includes(p.state)).map((p) => p.amount)));
  expect(t.released).toBe(sum(payments.filter((p) => p.state === 'released').map((p) => p.amount)));
  expect(t.refunded).toBe(sum(payments.map((p) => p.refunded_amount)));
  for (const p of payments) {
    expect(p.refunded_amount).toBeGreaterThanOrEqual(0);
    expect(p.refunded_amount).toBeLessThanOrEqual(p.amount);
    if (p.refunded_amount > 0) expect(CAPTURED_STATES).toContain(p.state);
    expect(p.state === 'refunded').toBe(p.refunded_amount === p.amount && p.refunded_amount > 0);
  }

  // Buckets = sums over the ledger, per kind.
  const byKind = (kind: string) => sum(ledger.filter((l) => l.kind === kind).map((l) => l.amount));
  expect(byKind('reserve')).toBe(sum(payments.map((p) => p.amount)));
  expect(byKind('capture')).toBe(t.captured);
  expect(byKind('release')).toBe(t.released);
  expect(byKind('refund')).toBe(t.refunded);
  expect(byKind('reserve') - byKind('capture') - byKind('release')).toBe(t.reserved);

  // Each transition at most once per payment: one reserve row, at most one capture or one release (never both).
  for (const p of payments) {
    const rows = ledger.filter((l) => l.payment_id === p.id);
    const count = (kind: string) => rows.filter((l) => l.kind === kind).length;
    expect(count('reserve')).toBe(1);
    expect(count('capture') + count('release')).toBe(OPEN_STATES.includes(p.state) ? 0 : 1);
    expect(count('capture')).toBe(CAPTURED_STATES.includes(p.state) ? 1 : 0);
    for (const l of rows) {
      if (l.kind !== 'refund') expect(l.amount).toBe(p.amount);
    }
  }
  expect(new Set(ledger.map((l) => l.event_key)).size).toBe(ledger.length);
  return { task: t, payments };
}

/** Watches a task's row while work is in flight and records every reading that broke the money rule. */
function watch(taskId: string): { stop: () => Promise<string[]> } {
  const broken: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = await task(taskId);
      if (t.captured - t.refunded + t.reserved > t.budget_limit || t.reserved < 0 || t.refunded > t.captured) {
        broken.push(JSON.stringify({ limit: t.budget_limit, reserved: t.reserved, captured: t.captured, refunded: t.refunded }));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return broken;
    },
  };
}

/** What happens to one successfully reserved payment. */
type Plan = {
  /** The pay call's outcome was not known first (timeout): reserved → unknown. */
  unknownFirst: boolean;
  /** capture, release, both racing, or nothing yet (still held). */
  settle: 'capture' | 'release' | 'race' | 'none';
  /** How many workers make the same call at once (redelivery, two workers). */
  copies: number;
  /** Refunds after a capture: each a share (1–100 %) of what is left, some delivered twice at once. */
  refunds: { percent: number; twice: boolean }[];
};

const plan: fc.Arbitrary<Plan> = fc.record({
  unknownFirst: fc.boolean(),
  settle: fc.constantFrom('capture', 'release', 'race', 'none'),
  copies: fc.integer({ min: 1, max: 3 }),
  refunds: fc.array(fc.record({ percent: fc.integer({ min: 1, max: 100 }), twice: fc.boolean() }), { maxLength: 3 }),
});

/** Carries out one payment's plan; returns how many calls reported a movement, per kind. */
async function carryOut(repos: Repositories, payment: Payment, p: Plan): Promise<{ captures: number; releases: number; refunds: number; refundIds: number }> {
  if (p.unknownFirst) {
    await Promise.all(Array.from({ length: p.copies }, () => repos.payments.markUnknown(payment.id, 'pay call timed out')));
  }
  const captures: Promise<unknown>[] = [];
  const releases: Promise<unknown>[] = [];
  for (let i = 0; i < p.copies; i++) {
    if (p.settle === 'capture' || p.settle === 'race') captures.push(repos.payments.capture(payment.id, `charge-${payment.id}`));
    if (p.settle === 'release' || p.settle === 'race') releases.push(repos.payments.release(payment.id, 'not needed'));
  }
  const [c, r] = await Promise.all([Promise.all(captures), Promise.all(releases)]);
  const capturesMoved = c.filter(Boolean).length;
  const releasesMoved = r.filter(Boolean).length;

  let refundsMoved = 0;
  let refundIds = 0;
  if (capturesMoved === 1) {
    // The issuer refunded parts of the charge; each refund is ≤ what is left when it was made, so
    // in total they never exceed the charge, whatever order they are booked in.
    let left = payment.amount;
    const refunds: Promise<unknown>[] = [];
    p.refunds.forEach((rf, i) => {
      const amount = Math.min(left, Math.max(1, Math.floor((left * rf.percent) / 100)));
      if (left === 0) return;
      left -= amount;
      refundIds += 1;
      const id = `refund-${payment.id}-${i}`;
      refunds.push(repos.payments.refund(payment.id, id, amount));
      if (rf.twice) refunds.push(repos.payments.refund(payment.id, id, amount));
    });
    refundsMoved = (await Promise.all(refunds)).filter(Boolean).length;
  }
  return { captures: capturesMoved, releases: releasesMoved, refunds: refundsMoved, refundIds };
}

/** The over-budget answers of a batch of reservations agree with what the batch left. */
function expectReservationBatch(limit: number, prices: number[], results: ReserveResult[], finalRemaining: number) {
  for (const [i, r] of results.entries()) {
    expect(['reserved', 'over_budget']).toContain(r.kind);
    if (r.kind === 'over_budget') {
      // Refused only when it really did not fit, and the remaining it reports is true.
      expect(prices[i]!).toBeGreaterThan(finalRemaining);
      expect(r.remaining).toBeLessThan(prices[i]!);
      expect(r.remaining).toBeGreaterThanOrEqual(finalRemaining);
    }
    if (r.kind === 'reserved') {
      expect(r.payment.amount).toBe(prices[i]);
      expect(r.payment.state).toBe('reserved');
      expect(r.ledgerEntryIds).toHaveLength(1);
    }
  }
  const reserved = results.flatMap((r, i) => (r.kind === 'reserved' ? [prices[i]!] : []));
  expect(sum(reserved)).toBeLessThanOrEqual(limit);
}

describe('PaymentRepository: the budget under concurrency (property-based, real database)', () => {
  it('(a) concurrent reserves never exceed the limit, and any interleaving of capture/release/refund keeps the books exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20_000 }),
        fc.array(fc.integer({ min: 1, max: 6_000 }), { minLength: 1, maxLength: 12 }),
        fc.array(plan, { minLength: 12, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 6_000 }), { maxLength: 5 }),
        async (limit, prices, plans, latePrices) => {
          const taskId = await runningTask(h.repos, limit);
          const watcher = watch(taskId);

          // 1. Every reservation at once.
          const results = await Promise.all(prices.map((price, i) => h.repos.payments.reserve(reserveInput(taskId, `c${i}`, price))));
          const reserved = results.flatMap((r) => (r.kind === 'reserved' ? [r.payment] : []));
          const afterReserve = await task(taskId);
          expect(afterReserve.reserved).toBe(sum(reserved.map((p) => p.amount)));
          expect(afterReserve.captured).toBe(0);
          expectReservationBatch(limit, prices, results, limit - afterReserve.reserved);
          await expectConsistentBooks(taskId);

          // 2. Every payment's life at once, with late reservations racing them.
          const [outcomes, late] = await Promise.all([
            Promise.all(reserved.map((p, i) => carryOut(h.repos, p, plans[i]!))),
            Promise.all(latePrices.map((price, i) => h.repos.payments.reserve(reserveInput(taskId, `late${i}`, price)))),
          ]);
          for (const r of late) expect(['reserved', 'over_budget']).toContain(r.kind);

          // Each transition happened once, whoever asked and however often.
          for (const [i, p] of reserved.entries()) {
            const o = outcomes[i]!;
            const settle = plans[i]!.settle;
            if (settle === 'none') expect(o.captures + o.releases).toBe(0);
            else expect(o.captures + o.releases).toBe(1);
            if (settle === 'capture') expect(o.captures).toBe(1);
            if (settle === 'release') expect(o.releases).toBe(1);
            expect(o.refunds).toBe(o.refundIds);
            const now = (await h.repos.payments.get(p.id))!;
            if (o.captures) expect(['captured', 'refunded']).toContain(now.state);
            if (o.releases) expect(now.state).toBe('released');
            if (settle === 'none') expect(now.state).toBe(plans[i]!.unknownFirst ? 'unknown' : 'reserved');
          }

          expect(await watcher.stop()).toEqual([]);
          const { task: t } = await expectConsistentBooks(taskId);

          // 3. What is left is exactly limit − spent − reserved: it can be reserved, one fen more cannot.
          const remaining = t.budget_limit - (t.captured - t.refunded) - t.reserved;
          const over = await h.repos.payments.reserve(reserveInput(taskId, 'one-fen-too-many', remaining + 1));
          expect(over).toEqual({ kind: 'over_budget', remaining });
          if (remaining > 0) {
            const fill = await h.repos.payments.reserve(reserveInput(taskId, 'the-rest', remaining));
            expect(fill.kind).toBe('reserved');
            const full = await task(taskId);
            expect(full.captured - full.refunded + full.reserved).toBe(full.budget_limit);
          }
          await expectConsistentBooks(taskId);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('(b) the same idempotency key reserved by several workers at once → one payment, one reserve row', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 2, max: 4 }), async (limit, percent, copies) => {
        const amount = Math.max(1, Math.floor((limit * percent) / 100));
        const taskId = await runningTask(h.repos, limit);
        const input = reserveInput(taskId, 'c1', amount);
        const results = await Promise.all(Array.from({ length: copies }, () => h.repos.payments.reserve(input)));

        // Every caller is told about the one payment; exactly one of them made it.
        expect(results.filter((r) => r.kind === 'reserved')).toHaveLength(1);
        for (const r of results) {
          expect(['reserved', 'existing']).toContain(r.kind);
        }
        const payments = await h.repos.payments.forTask(taskId);
        expect(payments).toHaveLength(1);
        for (const r of results) if (r.kind === 'reserved' || r.kind === 'existing') expect(r.payment.id).toBe(payments[0]!.id);
        const ledger = await h.repos.payments.ledger(taskId);
        expect(ledger.map((l) => [l.kind, l.amount])).toEqual([['reserve', amount]]);
        expect((await task(taskId)).reserved).toBe(amount);
        await expectConsistentBooks(taskId);
      }),
      { numRuns: 20 },
    );
  });

  it('(b) a retry with the key after the payment was captured gets that payment back and reserves nothing', async () => {
    const taskId = await runningTask(h.repos, 5000);
    const input = reserveInput(taskId, 'c1', 1200);
    const first = await h.repos.payments.reserve(input);
    if (first.kind !== 'reserved') throw new Error(`expected a reservation, got ${first.kind}`);
    expect(await h.repos.payments.capture(first.payment.id, 'ch-1')).toBeDefined();
    const again = await h.repos.payments.reserve(input);
    expect(again.kind).toBe('existing');
    if (again.kind === 'existing') expect(again.payment).toMatchObject({ id: first.payment.id, state: 'captured' });
    expect(await task(taskId)).toMatchObject({ reserved: 0, captured: 1200 });
    expect(await h.repos.payments.ledger(taskId)).toHaveLength(2);
  });

  it('(c) a task whose cancel was requested reserves nothing: task_closed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20_000 }), fc.array(fc.integer({ min: 1, max: 6_000 }), { minLength: 1, maxLength: 5 }), async (limit, prices) => {
        const taskId = await runningTask(h.repos, limit);
        expect(await h.repos.tasks.requestCancel(taskId, TENANT)).toBe(true);
        const results = await Promise.all(prices.map((price, i) => h.repos.payments.reserve(reserveInput(taskId, `c${i}`, price))));
        for (const r of results) expect(r).toEqual({ kind: 'task_closed' });
        expect(await task(taskId)).toMatchObject({ reserved: 0, captured: 0, refunded: 0 });
        expect(await h.repos.payments.forTask(taskId)).toEqual([]);
        expect(await h.repos.payments.ledger(taskId)).toEqual([]);
      }),
      { numRuns: 10 },
    );
  });

  it('(c) a task that is not running (queued, or ended) reserves nothing: task_closed', async () => {
    for (const end of [undefined, 'completed', 'failed', 'cancelled'] as const) {
      // Not yet entered a stage (still queued), or ended.
      const taskId = await runningTask(h.repos, 5000, end !== undefined);
      if (end) expect(await h.repos.tasks.end(taskId, end)).toBe(true);
      expect((await task(taskId)).status).toBe(end ?? 'queued');
      expect(await h.repos.payments.reserve(reserveInput(taskId, 'c1', 100))).toEqual({ kind: 'task_closed' });
      expect(await task(taskId)).toMatchObject({ reserved: 0 });
      expect(await h.repos.payments.ledger(taskId)).toEqual([]);
    }
  });

  it('capture and release race on one payment: exactly one wins, and the loser changes nothing', async () => {
    const taskId = await runningTask(h.repos, 5000);
    const r = await h.repos.payments.reserve(reserveInput(taskId, 'c1', 1500));
    if (r.kind !== 'reserved') throw new Error(`expected a reservation, got ${r.kind}`);
    const [captured, released] = await Promise.all([h.repos.payments.capture(r.payment.id, 'ch-1'), h.repos.payments.release(r.payment.id, 'gave up')]);
    expect([captured, released].filter(Boolean)).toHaveLength(1);
    // Whatever lost, a later call of either kind books nothing more.
    expect(await h.repos.payments.capture(r.payment.id, 'ch-2')).toBeUndefined();
    expect(await h.repos.payments.release(r.payment.id, 'again')).toBeUndefined();
    const { payments } = await expectConsistentBooks(taskId);
    expect(payments[0]!.state).toBe(captured ? 'captured' : 'released');
    if (captured) expect(payments[0]!.charge_id).toBe('ch-1');
  });

  it('markUnknown keeps the money reserved and only applies to a payment still reserved', async () => {
    const taskId = await runningTask(h.repos, 5000);
    const a = await h.repos.payments.reserve(reserveInput(taskId, 'a', 1000));
    const b = await h.repos.payments.reserve(reserveInput(taskId, 'b', 700));
    if (a.kind !== 'reserved' || b.kind !== 'reserved') throw new Error('expected two reservations');
    await h.repos.payments.markUnknown(a.payment.id, 'timeout');
    expect((await h.repos.payments.get(a.payment.id))!.state).toBe('unknown');
    expect(await task(taskId)).toMatchObject({ reserved: 1700 });
    expect((await h.repos.payments.openForTask(taskId)).map((p) => p.id)).toEqual([a.payment.id, b.payment.id]);
    // A captured payment stays captured.
    await h.repos.payments.capture(b.payment.id, 'ch-b');
    await h.repos.payments.markUnknown(b.payment.id, 'late timeout');
    expect((await h.repos.payments.get(b.payment.id))!.state).toBe('captured');
    // The unknown one is settled by the issuer's books: captured.
    expect(await h.repos.payments.capture(a.payment.id, 'ch-a')).toBeDefined();
    expect(await task(taskId)).toMatchObject({ reserved: 0, captured: 1700 });
    await expectConsistentBooks(taskId);
  });

  it('a refund is booked once per issuer refund, even when delivered twice at once, and a refund beyond the charge is refused', async () => {
    const taskId = await runningTask(h.repos, 5000);
    const r = await h.repos.payments.reserve(reserveInput(taskId, 'c1', 1000));
    if (r.kind !== 'reserved') throw new Error(`expected a reservation, got ${r.kind}`);
    await h.repos.payments.capture(r.payment.id, 'ch-1');
    const twice = await Promise.all([h.repos.payments.refund(r.payment.id, 'rf-1', 600), h.repos.payments.refund(r.payment.id, 'rf-1', 600)]);
    expect(twice.filter(Boolean)).toHaveLength(1);
    expect(await task(taskId)).toMatchObject({ captured: 1000, refunded: 600 });
    expect((await h.repos.payments.get(r.payment.id))!.state).toBe('captured');

    // 6.00 of 10.00 refunded: another 5.00 would refund more than was charged.
    await expect(h.repos.payments.refund(r.payment.id, 'rf-2', 500)).rejects.toThrow();
    expect(await task(taskId)).toMatchObject({ captured: 1000, refunded: 600 });

    // The rest: the payment is refunded in full and 10.00 is free again.
    expect(await h.repos.payments.refund(r.payment.id, 'rf-3', 400)).toBeDefined();
    expect((await h.repos.payments.get(r.payment.id))!.state).toBe('refunded');
    const t = await task(taskId);
    expect(t.budget_limit - (t.captured - t.refunded) - t.reserved).toBe(5000);
    await expectConsistentBooks(taskId);
  });
});

describe('PaymentRepository: two connection pools racing on one task (Postgres only)', () => {
  it.skipIf(!process.env.DATABASE_URL)('(d) reserves, captures and releases from two pools keep the limit and the books', async () => {
    const second = await openDatabase({ databaseUrl: h.config.DATABASE_URL, schema: h.config.DATABASE_SCHEMA, dataDir: h.config.DATA_DIR, poolSize: 10 });
    const other = repositories(second, keyringFrom(h.config.DATA_ENCRYPTION_KEYS));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 20_000 }),
          fc.array(fc.record({ price: fc.integer({ min: 1, max: 6_000 }), pool: fc.boolean() }), { minLength: 2, maxLength: 20 }),
          fc.array(plan, { minLength: 20, maxLength: 20 }),
          async (limit, asks, plans) => {
            const taskId = await runningTask(h.repos, limit);
            const watcher = watch(taskId);
            const prices = asks.map((a) => a.price);
            const results = await Promise.all(asks.map((a, i) => (a.pool ? other : h.repos).payments.reserve(reserveInput(taskId, `c${i}`, a.price))));
            const t = await task(taskId);
            expectReservationBatch(limit, prices, results, limit - t.reserved);

            // The same payments settled from both pools at once: every call goes to both.
            const reserved = results.flatMap((r) => (r.kind === 'reserved' ? [r.payment] : []));
            await Promise.all(reserved.flatMap((p, i) => [carryOut(h.repos, p, { ...plans[i]!, refunds: [] }), carryOut(other, p, { ...plans[i]!, refunds: [] })]));
            // A second batch of reserves from both pools, against what was released.
            await Promise.all(asks.map((a, i) => (a.pool ? h.repos : other).payments.reserve(reserveInput(taskId, `d${i}`, a.price))));

            expect(await watcher.stop()).toEqual([]);
            await expectConsistentBooks(taskId);
          },
        ),
        { numRuns: 15 },
      );

      // Both pools, the same key at once: still one payment.
      const taskId = await runningTask(h.repos, 1000);
      const input = reserveInput(taskId, 'c1', 400);
      const both = await Promise.all([h.repos.payments.reserve(input), other.payments.reserve(input), h.repos.payments.reserve(input), other.payments.reserve(input)]);
      expect(both.filter((r) => r.kind === 'reserved')).toHaveLength(1);
      expect(await h.repos.payments.forTask(taskId)).toHaveLength(1);
      await expectConsistentBooks(taskId);
    } finally {
      await second.close();
    }
  });
});

/** reserved + captured − refunded of a tenant's tasks (all created today, here), and the day's counter of them. */
async function dayOf(tenant: string): Promise<{ books: number; counted: number }> {
  const rows = await h.database.db.selectFrom('tasks').select(['reserved', 'captured', 'refunded']).where('tenant', '=', tenant).execute();
  const day = await h.database.db.selectFrom('tenant_spend_daily').select('spend').where('tenant', '=', tenant).execute();
  return { books: sum(rows.map((t) => t.reserved + t.captured - t.refunded)), counted: sum(day.map((d) => Number(d.spend))) };
}

/** Watches a tenant's day while work is in flight and records every reading above the cap. */
function watchDay(tenant: string, cap: number): { stop: () => Promise<number[]> } {
  const over: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const { counted } = await dayOf(tenant);
      if (counted > cap) over.push(counted);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return over;
    },
  };
}

describe("PaymentRepository: a tenant's daily cap across its tasks (property-based, real database)", () => {
  it('(e) concurrent reserves of many tasks never take the day over its cap, and any settling keeps the day equal to the books', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20_000 }),
        fc.array(fc.record({ task: fc.nat(19), price: fc.integer({ min: 1, max: 3_000 }) }), { minLength: 1, maxLength: 24 }),
        fc.array(plan, { minLength: 24, maxLength: 24 }),
        async (cap, asks, plans) => {
          const tenant = `prop-${randomUUID()}`;
          const tasks = await Promise.all(Array.from({ length: 20 }, () => runningTask(h.repos, 5_000, true, tenant)));
          const watcher = watchDay(tenant, cap);
          const results = await Promise.all(asks.map((a, i) => h.repos.payments.reserve({ ...reserveInput(tasks[a.task]!, `c${i}`, a.price), dailyCap: cap })));
          const after = await dayOf(tenant);
          for (const [i, r] of results.entries()) {
            expect(['reserved', 'over_budget', 'over_daily_limit']).toContain(r.kind);
            // Refused by the day only when it did not fit what the day had left by then.
            if (r.kind === 'over_daily_limit') {
              expect(r.remaining).toBeLessThan(asks[i]!.price);
              expect(r.remaining).toBeGreaterThanOrEqual(cap - after.counted);
            }
          }
          expect(after.counted).toBeLessThanOrEqual(cap);
          expect(after.counted).toBe(sum(results.flatMap((r, i) => (r.kind === 'reserved' ? [asks[i]!.price] : []))));

          const reserved = results.flatMap((r) => (r.kind === 'reserved' ? [r.payment] : []));
          await Promise.all(reserved.map((p, i) => carryOut(h.repos, p, plans[i]!)));
          // What was released or refunded can be reserved again, never beyond the cap.
          await Promise.all(asks.map((a, i) => h.repos.payments.reserve({ ...reserveInput(tasks[a.task]!, `d${i}`, a.price), dailyCap: cap })));

          expect(await watcher.stop()).toEqual([]);
          const end = await dayOf(tenant);
          expect(end.counted).toBe(end.books);
          expect(end.counted).toBeLessThanOrEqual(cap);
          for (const t of new Set(asks.map((a) => tasks[a.task]!))) await expectConsistentBooks(t);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('(f) twenty tasks of one tenant racing for the last yuan of the day: exactly one gets it (two pools on Postgres)', async () => {
    const second = h.database.kind === 'postgres' ? await openDatabase({ databaseUrl: h.config.DATABASE_URL, schema: h.config.DATABASE_SCHEMA, dataDir: h.config.DATA_DIR, poolSize: 10 }) : undefined;
    const other = second ? repositories(second, keyringFrom(h.config.DATA_ENCRYPTION_KEYS)) : h.repos;
    const wide = h.database.kind === 'postgres' ? await openDatabase({ databaseUrl: h.config.DATABASE_URL, schema: h.config.DATABASE_SCHEMA, dataDir: h.config.DATA_DIR, poolSize: 10 }) : undefined;
    const mine = wide ? repositories(wide, keyringFrom(h.config.DATA_ENCRYPTION_KEYS)) : h.repos;
    try {
      const CAP = 50_000; // 500.00 a day
      for (let round = 0; round < 5; round++) {
        const tenant = `last-yuan-${round}-${randomUUID().slice(0, 8)}`;
        // The day has spent all but one yuan (100 fen) already.
        const earlier = await runningTask(h.repos, CAP, true, tenant);
        expect((await h.repos.payments.reserve({ ...reserveInput(earlier, 'spent', CAP - 100), dailyCap: CAP })).kind).toBe('reserved');
        const tasks = await Promise.all(Array.from({ length: 20 }, () => runningTask(h.repos, 5_000, true, tenant)));
        const watcher = watchDay(tenant, CAP);
        // Each asks for the last yuan (or a little less or more), all at once, over 20 connections.
        const asks = tasks.map((_, i) => (round === 0 ? 100 : 60 + ((i * 37 + round * 11) % 80)));
        const results = await Promise.all(tasks.map((t, i) => (i % 2 ? other : mine).payments.reserve({ ...reserveInput(t, 'last', asks[i]!), dailyCap: CAP })));
        expect(await watcher.stop()).toEqual([]);
        const won = results.flatMap((r, i) => (r.kind === 'reserved' ? [asks[i]!] : []));
        // Two asks of at least 0.60 never fit in 1.00: one and only one wins each round.
        if (round === 0) expect(won).toEqual([100]);
        expect(won).toHaveLength(1);
        expect(sum(won)).toBeLessThanOrEqual(100);
        for (const r of results) if (r.kind !== 'reserved') expect(r.kind).toBe('over_daily_limit');
        const day = await dayOf(tenant);
        expect(day).toEqual({ books: CAP - 100 + sum(won), counted: CAP - 100 + sum(won) });
      }
    } finally {
      await second?.close();
      await wide?.close();
    }
  });
});

describe("PaymentRepository: the tenant's claim on buying a company (property-based, real database)", () => {
  it('(g) tasks of one tenant claiming one company at once: one holder; of those that wait, only the holder reserves; those past their wait reserve regardless (two pools on Postgres)', async () => {
    const second = h.database.kind === 'postgres' ? await openDatabase({ databaseUrl: h.config.DATABASE_URL, schema: h.config.DATABASE_SCHEMA, dataDir: h.config.DATA_DIR, poolSize: 10 }) : undefined;
    const other = second ? repositories(second, keyringFrom(h.config.DATA_ENCRYPTION_KEYS)) : h.repos;
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2000 }), async (waiting, pastWait, price) => {
          const tenant = `claim-${randomUUID().slice(0, 8)}`;
          const companyId = 'hot';
          const resource = `/company/detail?id=${companyId}`;
          const tasks = await Promise.all(Array.from({ length: waiting + pastWait }, () => runningTask(h.repos, 5_000, true, tenant)));
          for (const t of tasks) {
            await h.repos.companies.saveCandidates(t, [
              { companyId, rank: 1, name: 'Hot', industry: 'Batteries', city: 'Ningde', price, relevance: 1, chosen: true, decision: { action: 'buy', reason: 'picked', by: 'rules' }, basic: {} },
            ]);
          }
          const regardless = (i: number) => i >= waiting;
          const results = await Promise.all(
            tasks.map((t, i) =>
              (i % 2 ? other : h.repos).payments.claimAndReserve({
                taskId: t, companyId, tenant, resource, amount: price, key: paymentKey(t, resource), claim: { maxAgeSeconds: 3600, regardless: regardless(i) },
              }),
            ),
          );
          const holder = (await h.database.db.selectFrom('purchase_claims').select('task_id').where('tenant', '=', tenant).where('company_id', '=', companyId).executeTakeFirstOrThrow()).task_id;
          expect(tasks).toContain(holder);
          results.forEach((r, i) => expect(r.kind).toBe(regardless(i) || tasks[i] === holder ? 'reserved' : 'held'));
          for (const t of tasks) await expectConsistentBooks(t);
        }),
        { numRuns: 10 },
      );
    } finally {
      await second?.close();
    }
  });
});
