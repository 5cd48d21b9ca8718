import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, runningTask, type Harness } from '../../test/support/harness.ts';
import { utcDay } from '../tenants/policy.ts';
import { paymentKey, type Task } from './index.ts';

/**
 * `PaymentRepository.reserve` refuses what the task cannot give, by its own conditional UPDATE: the
 * CHECK constraint on the tasks table (`tasks_within_budget`) is only a backstop, so the refusals are
 * proven here with that constraint dropped from this file's private schema. (The concurrency
 * properties of the whole ledger are in payments.property.test.ts.)
 */

const TENANT = 'acme';
const CHECK = 'tasks_within_budget';
let h: Harness;

beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const newTask = (budgetLimit: number) => runningTask(h, { id: randomUUID(), tenant: TENANT, theme: 'battery', budgetLimit });

function input(taskId: string, companyId: string, amount: number) {
  const resource = `/company/detail?id=${companyId}`;
  return { taskId, companyId, tenant: TENANT, resource, amount, key: paymentKey(taskId, resource) };
}

const buckets = async (taskId: string) => {
  const t = (await h.repos.tasks.get(taskId))!;
  return { reserved: t.reserved, captured: t.captured, refunded: t.refunded, released: t.released };
};

/** A payment reserved and captured (the pay call succeeded) on the task: returns its id. */
async function captured(taskId: string, companyId: string, amount: number): Promise<number> {
  const r = await h.repos.payments.reserve(input(taskId, companyId, amount));
  if (r.kind !== 'reserved') throw new Error(`expected a reservation, got ${r.kind}`);
  expect(await h.repos.payments.capture(r.payment.id, `ch-${companyId}`)).toBeDefined();
  return r.payment.id;
}

/** Asks for a reservation that must be refused, and checks it left nothing behind. */
async function expectRefused(taskId: string, companyId: string, amount: number, answer: object): Promise<void> {
  const before = { buckets: await buckets(taskId), payments: await h.repos.payments.forTask(taskId), ledger: await h.repos.payments.ledger(taskId) };
  const req = input(taskId, companyId, amount);
  expect(await h.repos.payments.reserve(req)).toEqual(answer);
  expect(await h.repos.payments.byKey(req.key)).toBeUndefined();
  expect(await h.repos.payments.forTask(taskId)).toEqual(before.payments);
  expect(await h.repos.payments.ledger(taskId)).toEqual(before.ledger);
  expect(await buckets(taskId)).toEqual(before.buckets);
}

describe('the CHECK constraint is the backstop', () => {
  it(`a direct write that takes more than the budget is refused by the database (${CHECK})`, async () => {
    const taskId = await newTask(1000);
    await expect(h.database.db.updateTable('tasks').set({ reserved: 1001 }).where('id', '=', taskId).execute()).rejects.toThrow(CHECK);
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 0, refunded: 0, released: 0 });
  });
});

describe(`reserve refuses an over-budget reservation by its own condition (${CHECK} dropped)`, () => {
  beforeAll(async () => {
    await sql`alter table tasks drop constraint ${sql.id(CHECK)}`.execute(h.database.db);
  });
  // Adding it back checks every row again: none of the reservations above broke the rule.
  afterAll(async () => {
    await sql`alter table tasks add constraint ${sql.id(CHECK)} check (captured - refunded + reserved <= budget_limit)`.execute(h.database.db);
  });

  it('the backstop really is gone: a direct write over the budget now goes through', async () => {
    const taskId = await newTask(1000);
    await h.database.db.updateTable('tasks').set({ reserved: 1001 }).where('id', '=', taskId).execute();
    expect((await buckets(taskId)).reserved).toBe(1001);
    await h.database.db.updateTable('tasks').set({ reserved: 0 }).where('id', '=', taskId).execute();
  });

  it('refuses one fen more than remains, names the exact remaining, and writes nothing; exactly what remains fits', async () => {
    const taskId = await newTask(5000);
    const first = await h.repos.payments.reserve(input(taskId, 'a', 3000));
    expect(first.kind).toBe('reserved');

    await expectRefused(taskId, 'b', 2001, { kind: 'over_budget', remaining: 2000 });
    // Far over the budget, and more than the whole budget: the same answer.
    await expectRefused(taskId, 'b', 9000, { kind: 'over_budget', remaining: 2000 });

    const rest = await h.repos.payments.reserve(input(taskId, 'b', 2000));
    expect(rest.kind).toBe('reserved');
    expect(await buckets(taskId)).toEqual({ reserved: 5000, captured: 0, refunded: 0, released: 0 });
    await expectRefused(taskId, 'c', 1, { kind: 'over_budget', remaining: 0 });
  });

  it('a fresh task refuses more than its whole budget', async () => {
    const taskId = await newTask(700);
    await expectRefused(taskId, 'a', 701, { kind: 'over_budget', remaining: 700 });
    expect((await h.repos.payments.reserve(input(taskId, 'a', 700))).kind).toBe('reserved');
  });

  it('spent counts as captured − refunded: a refund frees budget, a capture keeps it taken', async () => {
    const taskId = await newTask(5000);
    const paid = await captured(taskId, 'a', 3000);
    await expectRefused(taskId, 'b', 2001, { kind: 'over_budget', remaining: 2000 });

    expect(await h.repos.payments.refund(paid, 'rf-1', 1200)).toBeDefined();
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 3000, refunded: 1200, released: 0 });
    await expectRefused(taskId, 'b', 3201, { kind: 'over_budget', remaining: 3200 });
    expect((await h.repos.payments.reserve(input(taskId, 'b', 3200))).kind).toBe('reserved');
    await expectRefused(taskId, 'c', 1, { kind: 'over_budget', remaining: 0 });
  });

  it('a released reservation gives its money back, and a refused key can be reserved once it fits (the refusal left no row)', async () => {
    const taskId = await newTask(2000);
    const a = await h.repos.payments.reserve(input(taskId, 'a', 1500));
    if (a.kind !== 'reserved') throw new Error(`expected a reservation, got ${a.kind}`);
    await expectRefused(taskId, 'b', 1000, { kind: 'over_budget', remaining: 500 });

    expect(await h.repos.payments.release(a.payment.id, 'pay call declined')).toBeDefined();
    const b = await h.repos.payments.reserve(input(taskId, 'b', 1000));
    expect(b.kind).toBe('reserved');
    if (b.kind === 'reserved') expect(b.ledgerEntryIds).toHaveLength(1);
    expect(await buckets(taskId)).toEqual({ reserved: 1000, captured: 0, refunded: 0, released: 1500 });
    expect((await h.repos.payments.ledger(taskId)).map((l) => [l.kind, l.amount])).toEqual([
      ['reserve', 1500],
      ['release', 1500],
      ['reserve', 1000],
    ]);
  });

  it('reservations racing on one task still never take more than the budget', async () => {
    const taskId = await newTask(5000);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => h.repos.payments.reserve(input(taskId, `c${i}`, 1000))));
    expect(results.filter((r) => r.kind === 'reserved')).toHaveLength(5);
    for (const r of results) if (r.kind !== 'reserved') expect(r).toEqual({ kind: 'over_budget', remaining: 0 });
    expect(await buckets(taskId)).toEqual({ reserved: 5000, captured: 0, refunded: 0, released: 0 });
    expect(await h.repos.payments.forTask(taskId)).toHaveLength(5);
    expect(await h.repos.payments.ledger(taskId)).toHaveLength(5);
  });
});

describe('reserve refuses a task that is not running: task_closed, even when the amount would not fit either', () => {
  const closings: [string, (taskId: string) => Promise<unknown>][] = [
    ['cancelled', (id) => h.repos.tasks.end(id, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' })],
    ['cancel requested (still running)', (id) => h.repos.tasks.requestCancel(id, TENANT)],
    ['completed', (id) => h.repos.tasks.end(id, 'completed')],
    ['failed', (id) => h.repos.tasks.end(id, 'failed', { code: 'provider_unavailable', message: 'gave up' })],
  ];

  it.each(closings)('%s', async (_name, close) => {
    const taskId = await newTask(5000);
    const paid = await captured(taskId, 'a', 1000);
    expect(await close(taskId)).toBe(true);
    const before: Partial<Task> = await buckets(taskId);
    expect(before).toEqual({ reserved: 0, captured: 1000, refunded: 0, released: 0 });

    await expectRefused(taskId, 'b', 100, { kind: 'task_closed' });
    await expectRefused(taskId, 'c', 9000, { kind: 'task_closed' });
    // A retry of the payment made before the task closed still finds it, and takes no budget.
    const again = await h.repos.payments.reserve(input(taskId, 'a', 1000));
    expect(again.kind).toBe('existing');
    if (again.kind === 'existing') expect(again.payment).toMatchObject({ id: paid, state: 'captured' });
    expect(await buckets(taskId)).toEqual(before);
  });

  it('a task still queued (no stage entered yet)', async () => {
    const taskId = randomUUID();
    const created = await h.repos.tasks.create({
      id: taskId, tenant: TENANT, idempotency_key: null, request_hash: null, theme: 'battery', voice_id: 'demo-voice', currency: 'CNY',
      max_companies: 5, status: 'queued', stage: null, budget_limit: 5000, token_id: null, error_code: null, error_message: null, ended_at: null,
    });
    expect(created.kind).toBe('created');
    await expectRefused(taskId, 'a', 100, { kind: 'task_closed' });
  });
});

describe('unappliedLedger: the ledger rows the dashboard has not counted', () => {
  it('lists uncounted rows older than the given age, oldest first, up to the limit', async () => {
    const taskId = await newTask(5000);
    const a = await captured(taskId, 'a', 1000);
    await captured(taskId, 'b', 500);
    const rows = await h.repos.payments.ledger(taskId);
    expect(rows.map((l) => l.kind)).toEqual(['reserve', 'capture', 'reserve', 'capture']);
    const ids = rows.map((l) => l.id);
    const mine = async (olderThanMs: number, limit?: number) => (await h.repos.payments.unappliedLedger(olderThanMs, limit)).filter((id) => ids.includes(id));
    // A movement counts itself as it is booked: nothing of it is left for the dashboard queue.
    await sql`update ledger_entries set created_at = now() - interval '2 minutes' where task_id = ${taskId}`.execute(h.database.db);
    expect(await mine(60_000)).toEqual([]);
    // As rows booked before that (migration 2026_11_29_050): no mark says they were counted.
    await sql`delete from dashboard_applied where ledger_entry_id in (${sql.join(ids)})`.execute(h.database.db);
    await sql`update ledger_entries set created_at = now() where task_id = ${taskId}`.execute(h.database.db);

    // Just written: too young to be given up on (its dashboard job may still be on its way).
    expect(await mine(60_000)).toEqual([]);
    // Age them: two minutes old now.
    await sql`update ledger_entries set created_at = now() - interval '2 minutes' where task_id = ${taskId}`.execute(h.database.db);
    expect(await mine(60_000)).toEqual(ids);
    expect(await mine(180_000)).toEqual([]);

    // Counted rows drop out.
    expect(await h.repos.dashboard.apply(ids[0]!)).toBe(true);
    expect(await mine(60_000)).toEqual(ids.slice(1));
    expect(await h.repos.payments.refund(a, 'rf-1', 300)).toBeDefined();
    expect(await mine(60_000)).toEqual(ids.slice(1));

    // Oldest first, and no more than the limit (the rows of other tests are older, so a small limit may not reach these).
    const all = await h.repos.payments.unappliedLedger(60_000);
    expect(all).toEqual([...all].sort((x, y) => x - y));
    expect(await h.repos.payments.unappliedLedger(60_000, 2)).toEqual(all.slice(0, 2));
  });
});

describe('the idempotency key of a purchase', () => {
  it('is `arp-<task>-<resource>` with every character outside [A-Za-z0-9=._-] made `_`: stored and sent to the providers, so it must not change between versions', () => {
    const taskId = '6f1c2a3b-0000-4000-8000-000000000001';
    expect(paymentKey(taskId, '/company/detail?id=CN-00042')).toBe(`arp-${taskId}-_company_detail_id=CN-00042`);
    expect(paymentKey(taskId, '/company/detail?id=a b&c=d.e')).toBe(`arp-${taskId}-_company_detail_id=a_b_c=d.e`);
    // The same on every call (every retry, every process).
    expect(paymentKey(taskId, '/company/detail?id=x')).toBe(paymentKey(taskId, '/company/detail?id=x'));
  });
});

describe('each movement hands back the ledger rows it booked (the dashboard counts exactly those)', () => {
  it('reserve, capture, refund and release each name their one ledger row', async () => {
    const taskId = await newTask(5000);
    const a = await h.repos.payments.reserve(input(taskId, 'a', 1000));
    const b = await h.repos.payments.reserve(input(taskId, 'b', 700));
    if (a.kind !== 'reserved' || b.kind !== 'reserved') throw new Error('expected two reservations');
    const capture = await h.repos.payments.capture(a.payment.id, 'ch-a');
    const refund = await h.repos.payments.refund(a.payment.id, 'rf-a', 250);
    const release = await h.repos.payments.release(b.payment.id, 'not needed');
    const ledger = await h.repos.payments.ledger(taskId);
    const rowOf = (paymentId: number, kind: string) => ledger.filter((l) => l.payment_id === paymentId && l.kind === kind).map((l) => l.id);
    expect(a.ledgerEntryIds).toEqual(rowOf(a.payment.id, 'reserve'));
    expect(b.ledgerEntryIds).toEqual(rowOf(b.payment.id, 'reserve'));
    expect(capture!.ledgerEntryIds).toEqual(rowOf(a.payment.id, 'capture'));
    expect(refund!.ledgerEntryIds).toEqual(rowOf(a.payment.id, 'refund'));
    expect(release!.ledgerEntryIds).toEqual(rowOf(b.payment.id, 'release'));
    expect(new Set([...a.ledgerEntryIds, ...b.ledgerEntryIds, ...capture!.ledgerEntryIds, ...refund!.ledgerEntryIds, ...release!.ledgerEntryIds]).size).toBe(5);
    expect(ledger).toHaveLength(5);
  });

  it('a purchase of 0.00 moves no money: no ledger row (they are never zero) and no ids, from reserve to refund', async () => {
    const taskId = await newTask(5000);
    const r = await h.repos.payments.reserve(input(taskId, 'free', 0));
    if (r.kind !== 'reserved') throw new Error(`expected a reservation, got ${r.kind}`);
    expect(r.ledgerEntryIds).toEqual([]);
    const capture = await h.repos.payments.capture(r.payment.id, 'ch-free');
    expect(capture).toMatchObject({ payment: { state: 'captured', charge_id: 'ch-free' }, ledgerEntryIds: [] });
    expect(await h.repos.payments.refund(r.payment.id, 'rf-free', 0)).toMatchObject({ ledgerEntryIds: [] });
    const other = await h.repos.payments.reserve(input(taskId, 'free2', 0));
    if (other.kind !== 'reserved') throw new Error(`expected a reservation, got ${other.kind}`);
    expect(await h.repos.payments.release(other.payment.id, 'not needed')).toMatchObject({ payment: { state: 'released' }, ledgerEntryIds: [] });
    expect(await h.repos.payments.ledger(taskId)).toEqual([]);
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 0, refunded: 0, released: 0 });
  });
});

describe('what a payment says about its errors (operators read it in GET /v1/tasks/:id/payments)', () => {
  it('noteError keeps the latest error and moves no money; a release keeps its reason, a capture the error before it', async () => {
    const taskId = await newTask(5000);
    const a = await h.repos.payments.reserve(input(taskId, 'a', 1000));
    const b = await h.repos.payments.reserve(input(taskId, 'b', 500));
    if (a.kind !== 'reserved' || b.kind !== 'reserved') throw new Error('expected two reservations');
    await h.repos.payments.noteError(a.payment.id, 'marketplace answered 503');
    await h.repos.payments.noteError(a.payment.id, 'marketplace timed out');
    expect(await h.repos.payments.get(a.payment.id)).toMatchObject({ state: 'reserved', last_error: 'marketplace timed out' });
    expect(await buckets(taskId)).toEqual({ reserved: 1500, captured: 0, refunded: 0, released: 0 });

    await h.repos.payments.capture(a.payment.id, 'ch-a');
    expect(await h.repos.payments.get(a.payment.id)).toMatchObject({ state: 'captured', charge_id: 'ch-a', last_error: 'marketplace timed out' });
    await h.repos.payments.release(b.payment.id, 'the issuer declined: insufficient_funds');
    expect(await h.repos.payments.get(b.payment.id)).toMatchObject({ state: 'released', charge_id: null, last_error: 'the issuer declined: insufficient_funds' });
  });
});

describe('a database refusal is an error, never a quiet answer', () => {
  it('reserving for a task that does not exist rejects (and books nothing)', async () => {
    const missing = randomUUID();
    await expect(h.repos.payments.reserve(input(missing, 'a', 100))).rejects.toThrow();
    expect(await h.repos.payments.forTask(missing)).toEqual([]);
  });
});

describe("recordReuse: a record taken from the tenant's memory", () => {
  it('links a zero-cost, delivered payment to the purchase it came from, moves no money, and is written once', async () => {
    const first = await newTask(5000);
    const source = await captured(first, 'a', 1200);
    await h.repos.payments.attachReceipt(source, { receiptId: 'rcpt-a', receipt: 'proof-a', expiresAt: new Date(Date.now() + 3600_000) });
    await h.repos.payments.markDelivered(source);
    const sourcePayment = (await h.repos.payments.get(source))!;

    const second = await newTask(5000);
    const req = { ...input(second, 'a', 0), source: sourcePayment };
    const reused = await h.repos.payments.recordReuse(req);
    expect(reused).toMatchObject({ task_id: second, company_id: 'a', amount: 0, state: 'delivered', receipt_id: 'rcpt-a', reused_payment_id: source, idempotency_key: req.key });
    // A redelivered job records it again: the same row comes back, no second one.
    expect(await h.repos.payments.recordReuse(req)).toEqual(reused);
    expect(await h.repos.payments.forTask(second)).toEqual([reused]);
    expect(await h.repos.payments.ledger(second)).toEqual([]);
    expect(await buckets(second)).toEqual({ reserved: 0, captured: 0, refunded: 0, released: 0 });
  });

  it('with the record, settles the company reused in the same statement; a company already settled keeps its outcome', async () => {
    const first = await newTask(5000);
    const source = await captured(first, 'r1', 900);
    await h.repos.payments.attachReceipt(source, { receiptId: 'rcpt-r1', receipt: 'proof-r1', expiresAt: new Date(Date.now() + 3600_000) });
    await h.repos.payments.markDelivered(source);
    const sourcePayment = (await h.repos.payments.get(source))!;
    const candidate = (companyId: string) => ({
      companyId, rank: 1, name: `Name ${companyId}`, industry: 'Batteries', city: 'Ningde', price: 900, relevance: 1, chosen: true,
      decision: { action: 'buy' as const, reason: 'picked', by: 'rules' as const }, basic: {},
    });

    const second = await newTask(5000);
    await h.repos.companies.saveCandidates(second, [candidate('r1')]);
    const record = { name: 'Name r1', riskNotes: [] };
    await h.repos.payments.recordReuse({ ...input(second, 'r1', 0), source: sourcePayment, record });
    expect(await h.repos.companies.get(second, 'r1')).toMatchObject({ status: 'reused', detail: record, receipt_id: 'rcpt-r1' });
    expect(await h.repos.payments.forTask(second)).toEqual([expect.objectContaining({ amount: 0, state: 'delivered', reused_payment_id: source })]);

    // A company settled otherwise before (the task ended first) is left as it was.
    const third = await newTask(5000);
    await h.repos.companies.saveCandidates(third, [candidate('r1')]);
    await h.repos.companies.settle(third, 'r1', 'skipped', { error: { code: 'task_ended', message: 'ended' } });
    await h.repos.payments.recordReuse({ ...input(third, 'r1', 0), source: sourcePayment, record });
    expect(await h.repos.companies.get(third, 'r1')).toMatchObject({ status: 'skipped', detail: null, error_code: 'task_ended' });
  });
});

describe('markDelivered: the purchase is done, and the tenant remembers the record in the same step', () => {
  /** The task's company, stored as the search stage does and settled `bought` with its record, as the detail stage does before delivery. */
  async function boughtCompany(taskId: string, companyId: string, price: number) {
    await h.repos.companies.saveCandidates(taskId, [
      {
        companyId, rank: 1, name: `Name ${companyId}`, industry: 'Batteries', city: 'Ningde', price, relevance: 3, chosen: true,
        decision: { action: 'buy', reason: 'picked', by: 'rules' }, basic: { tags: ['solid-state'], summary: 'cells' },
      },
    ]);
    await h.repos.companies.settle(taskId, companyId, 'bought', { detail: { name: `Name ${companyId}`, riskNotes: ['pledged'] } });
  }

  it('remembers a captured purchase once, at the price paid net of refunds, with its receipt and task', async () => {
    const taskId = await newTask(5000);
    await boughtCompany(taskId, 'm1', 1200);
    const id = await captured(taskId, 'm1', 1200);
    await h.repos.payments.attachReceipt(id, { receiptId: 'rcpt-m1', receipt: 'proof', expiresAt: new Date(Date.now() + 3600_000) });
    await h.repos.payments.refund(id, 'rf-m1', 300);
    await h.repos.payments.markDelivered(id);
    expect(await h.repos.payments.get(id)).toMatchObject({ state: 'delivered' });
    const known = await h.repos.memory.newest(TENANT, 'm1');
    expect(known).toMatchObject({ companyId: 'm1', name: 'Name m1', industry: 'Batteries', city: 'Ningde', pricePaid: 900, receiptId: 'rcpt-m1', paymentId: id, taskId, provider: 'marketplace', resource: '/company/detail?id=m1' });
    expect(known!.fields).toEqual({ name: 'Name m1', riskNotes: ['pledged'] });
    // Delivered again (a redelivery, or the report stage closing the task): still one record.
    await h.repos.payments.markDelivered(id);
    expect(await h.repos.memory.count(TENANT, 'm1')).toBe(1);
  });

  it('neither delivers nor remembers a payment that was not captured', async () => {
    const taskId = await newTask(5000);
    await boughtCompany(taskId, 'm2', 800);
    const r = await h.repos.payments.reserve(input(taskId, 'm2', 800));
    if (r.kind !== 'reserved') throw new Error(r.kind);
    await h.repos.payments.markDelivered(r.payment.id);
    expect(await h.repos.payments.get(r.payment.id)).toMatchObject({ state: 'reserved' });
    expect(await h.repos.memory.count(TENANT, 'm2')).toBe(0);
  });
});

describe('captureWithReceipt: the capture and the receipt in one step', () => {
  const receipt = (tag: string) => ({ receiptId: `rcpt-${tag}`, receipt: `proof-${tag}`, expiresAt: new Date(Date.now() + 3600_000) });

  it('moves the reservation to captured, books it once, and keeps the receipt sealed on the payment', async () => {
    const taskId = await newTask(5000);
    const r = await h.repos.payments.reserve(input(taskId, 'c1', 700));
    if (r.kind !== 'reserved') throw new Error(r.kind);
    const given = receipt('c1');
    const payment = await h.repos.payments.captureWithReceipt(r.payment.id, 'ch-c1', given);
    expect(payment).toMatchObject({ id: r.payment.id, state: 'captured', charge_id: 'ch-c1', receipt_id: 'rcpt-c1' });
    expect(payment.receipt).not.toContain('proof-c1');
    expect(h.repos.payments.receiptOf(payment)).toBe('proof-c1');
    expect(payment.receipt_expires_at!.getTime()).toBe(given.expiresAt.getTime());
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 700, refunded: 0, released: 0 });
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
  });

  it('on a payment captured before without its receipt (a crash lost it; paid again under the same key), keeps the receipt and books nothing more', async () => {
    const taskId = await newTask(5000);
    const id = await captured(taskId, 'c2', 400);
    expect((await h.repos.payments.get(id))!.receipt).toBeNull();
    const payment = await h.repos.payments.captureWithReceipt(id, 'ch-c2', receipt('c2'));
    expect(payment).toMatchObject({ state: 'captured', charge_id: 'ch-c2', receipt_id: 'rcpt-c2' });
    expect(h.repos.payments.receiptOf(payment)).toBe('proof-c2');
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 400, refunded: 0, released: 0 });
    expect((await h.repos.payments.ledger(taskId)).map((l) => l.kind)).toEqual(['reserve', 'capture']);
  });
});

describe("deliver: the company's outcome, the payment's delivery and the tenant's memory in one transaction", () => {
  async function candidate(taskId: string, companyId: string, price: number) {
    await h.repos.companies.saveCandidates(taskId, [
      {
        companyId, rank: 1, name: `Name ${companyId}`, industry: 'Batteries', city: 'Ningde', price, relevance: 3, chosen: true,
        decision: { action: 'buy', reason: 'picked', by: 'rules' }, basic: { summary: 'cells' },
      },
    ]);
  }

  it('settles the company bought with its record, delivers the payment and remembers it: once, however often called', async () => {
    const taskId = await newTask(5000);
    await candidate(taskId, 'd1', 600);
    const id = await captured(taskId, 'd1', 600);
    const outcome = { detail: { name: 'Name d1', riskNotes: [] }, receiptId: 'rcpt-d1', error: { code: 'incomplete_record', message: 'missing x' } };
    await h.repos.payments.deliver(id, { taskId, companyId: 'd1', outcome });
    await h.repos.payments.deliver(id, { taskId, companyId: 'd1', outcome: { detail: { name: 'changed' } } });
    expect(await h.repos.companies.get(taskId, 'd1')).toMatchObject({ status: 'bought', detail: outcome.detail, receipt_id: 'rcpt-d1', error_code: 'incomplete_record' });
    expect(await h.repos.payments.get(id)).toMatchObject({ state: 'delivered' });
    expect(await h.repos.memory.count(TENANT, 'd1')).toBe(1);
    expect((await h.repos.memory.newest(TENANT, 'd1'))!.fields).toEqual(outcome.detail);
  });

  it('leaves both as they were when the delivery cannot be written (the company is not bought without its payment delivered)', async () => {
    const taskId = await newTask(5000);
    await candidate(taskId, 'd2', 500);
    const id = await captured(taskId, 'd2', 500);
    // The memory write refused (as a database fault would refuse it): the transaction takes the company's outcome back with it.
    await sql`alter table memory_records add constraint t_refuse_d2 check (company_id <> 'd2')`.execute(h.database.db);
    try {
      await expect(h.repos.payments.deliver(id, { taskId, companyId: 'd2', outcome: { detail: { name: 'Name d2' } } })).rejects.toThrow('t_refuse_d2');
    } finally {
      await sql`alter table memory_records drop constraint t_refuse_d2`.execute(h.database.db);
    }
    expect(await h.repos.companies.get(taskId, 'd2')).toMatchObject({ status: 'found', detail: null });
    expect(await h.repos.payments.get(id)).toMatchObject({ state: 'captured' });
    // Tried again: done.
    await h.repos.payments.deliver(id, { taskId, companyId: 'd2', outcome: { detail: { name: 'Name d2' } } });
    expect(await h.repos.payments.get(id)).toMatchObject({ state: 'delivered' });
    expect(await h.repos.memory.count(TENANT, 'd2')).toBe(1);
  });

  it('a company settled otherwise meanwhile (its task ended) keeps its outcome: the payment is delivered, nothing is remembered', async () => {
    const taskId = await newTask(5000);
    await candidate(taskId, 'd3', 400);
    const id = await captured(taskId, 'd3', 400);
    await h.repos.companies.settle(taskId, 'd3', 'skipped', { error: { code: 'task_ended', message: 'ended' } });
    await h.repos.payments.deliver(id, { taskId, companyId: 'd3', outcome: { detail: { name: 'Name d3' }, receiptId: 'rcpt-d3' } });
    expect(await h.repos.companies.get(taskId, 'd3')).toMatchObject({ status: 'skipped', detail: null, receipt_id: null, error_code: 'task_ended' });
    expect(await h.repos.payments.get(id)).toMatchObject({ state: 'delivered' });
    expect(await h.repos.memory.count(TENANT, 'd3')).toBe(0);
  });

  it('keeps what the company held when the outcome leaves it out (no receipt id, no error)', async () => {
    const taskId = await newTask(5000);
    await candidate(taskId, 'd4', 300);
    const id = await captured(taskId, 'd4', 300);
    await h.database.db.updateTable('companies').set({ receipt_id: 'rcpt-earlier', error_code: 'earlier', error_message: 'an earlier note' }).where('task_id', '=', taskId).execute();
    await h.repos.payments.deliver(id, { taskId, companyId: 'd4', outcome: { detail: { name: 'Name d4' } } });
    expect(await h.repos.companies.get(taskId, 'd4')).toMatchObject({ status: 'bought', detail: { name: 'Name d4' }, receipt_id: 'rcpt-earlier', error_code: 'earlier', error_message: 'an earlier note' });
  });
});

describe("reserve holds the tenant's daily cap in the same step as the task's budget", () => {
  let n = 0;
  /** A tenant of its own for each test, so its days start empty. */
  const freshTenant = () => `daily-${++n}-${randomUUID().slice(0, 8)}`;
  const taskOf = (tenant: string, budgetLimit = 5000) => runningTask(h, { id: randomUUID(), tenant, theme: 'battery', budgetLimit });
  const capped = (taskId: string, companyId: string, amount: number, dailyCap: number | null) => ({ ...input(taskId, companyId, amount), dailyCap });
  /** The UTC day a task's spend counts against: the day it was created. */
  const dayOf = async (taskId: string) => utcDay((await h.repos.tasks.get(taskId))!.created_at);
  const spendOf = async (taskId: string) => h.repos.policies.spendOn((await h.repos.tasks.get(taskId))!.tenant, await dayOf(taskId));

  /** The day's counter equals reserved + captured − refunded of the tenant's tasks created that day. */
  async function expectDayMatchesBooks(tenant: string): Promise<void> {
    const { rows } = await sql<{ day: string; books: string; counted: string | null }>`
      select b.day, b.books::text, s.spend::text as counted
      from (select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day, sum(reserved + captured - refunded) as books
            from tasks where tenant = ${tenant} group by 1) b
      left join tenant_spend_daily s on s.tenant = ${tenant} and to_char(s.day, 'YYYY-MM-DD') = b.day`.execute(h.database.db);
    for (const r of rows) expect({ day: r.day, spend: Number(r.counted ?? 0) }).toEqual({ day: r.day, spend: Number(r.books) });
  }

  /** Asks for a reservation the cap must refuse, and checks it left nothing behind: no payment, no ledger row, no bucket or day moved. */
  async function expectOverDay(taskId: string, companyId: string, amount: number, cap: number, remaining: number): Promise<void> {
    const before = { buckets: await buckets(taskId), ledger: await h.repos.payments.ledger(taskId), spend: await spendOf(taskId) };
    const req = capped(taskId, companyId, amount, cap);
    expect(await h.repos.payments.reserve(req)).toEqual({ kind: 'over_daily_limit', remaining });
    expect(await h.repos.payments.byKey(req.key)).toBeUndefined();
    expect({ buckets: await buckets(taskId), ledger: await h.repos.payments.ledger(taskId), spend: await spendOf(taskId) }).toEqual(before);
  }

  it("refuses one fen more than remains of the day across the tenant's tasks, names what remains, writes nothing; exactly what remains fits", async () => {
    const tenant = freshTenant();
    const [a, b] = [await taskOf(tenant), await taskOf(tenant)];
    expect((await h.repos.payments.reserve(capped(a, 'x', 2000, 3000))).kind).toBe('reserved');
    expect(await spendOf(a)).toBe(2000);
    await expectOverDay(b, 'y', 1001, 3000, 1000);
    await expectOverDay(b, 'y', 5000, 3000, 1000);
    expect((await h.repos.payments.reserve(capped(b, 'y', 1000, 3000))).kind).toBe('reserved');
    expect(await spendOf(b)).toBe(3000);
    await expectOverDay(a, 'z', 1, 3000, 0);
    await expectDayMatchesBooks(tenant);
  });

  it('a refusal by the cap rolls back the task budget it had already taken in the same step', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant, 5000);
    // Fits the task (5000) but not the day (500): the task row was updated first, and must be as it was.
    await expectOverDay(taskId, 'a', 600, 500, 500);
    expect(await buckets(taskId)).toEqual({ reserved: 0, captured: 0, refunded: 0, released: 0 });
    await expectDayMatchesBooks(tenant);
  });

  it('the task budget is checked first: over both, the answer is over_budget and the day is untouched', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant, 1000);
    expect(await h.repos.payments.reserve(capped(taskId, 'a', 1001, 500))).toEqual({ kind: 'over_budget', remaining: 1000 });
    expect(await spendOf(taskId)).toBe(0);
  });

  it('on a day with nothing spent yet, more than the whole cap is refused and exactly the cap is taken', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant);
    await expectOverDay(taskId, 'a', 701, 700, 700);
    expect(await h.database.db.selectFrom('tenant_spend_daily').selectAll().where('tenant', '=', tenant).execute()).toEqual([]);
    expect((await h.repos.payments.reserve(capped(taskId, 'a', 700, 700))).kind).toBe('reserved');
    expect(await spendOf(taskId)).toBe(700);
  });

  it('without a cap nothing is refused but the day is still counted, so a cap set later (even below it) holds at once', async () => {
    const tenant = freshTenant();
    const [a, b] = [await taskOf(tenant), await taskOf(tenant)];
    expect((await h.repos.payments.reserve(capped(a, 'x', 4000, null))).kind).toBe('reserved');
    // Left out is the same as none.
    expect((await h.repos.payments.reserve(input(b, 'y', 5000))).kind).toBe('reserved');
    expect(await spendOf(a)).toBe(9000);
    await expectOverDay(a, 'z', 1, 9000, 0);
    // An operator lowered the cap below what the day has spent: nothing remains (never a negative amount).
    await expectOverDay(a, 'z', 1, 8000, 0);
    expect((await h.repos.payments.reserve(capped(a, 'z', 1000, 10_000))).kind).toBe('reserved');
    await expectDayMatchesBooks(tenant);
  });

  it('a capture keeps the money spent for the day; a release gives it back; a refund gives back what it returns', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant, 5000);
    const p1 = await h.repos.payments.reserve(capped(taskId, 'a', 1000, 3000));
    const p2 = await h.repos.payments.reserve(capped(taskId, 'b', 1500, 3000));
    if (p1.kind !== 'reserved' || p2.kind !== 'reserved') throw new Error('expected two reservations');
    expect(await spendOf(taskId)).toBe(2500);
    await h.repos.payments.capture(p1.payment.id, 'ch-a');
    expect(await spendOf(taskId)).toBe(2500);
    await expectOverDay(taskId, 'c', 501, 3000, 500);
    await h.repos.payments.release(p2.payment.id, 'not needed');
    expect(await spendOf(taskId)).toBe(1000);
    await h.repos.payments.refund(p1.payment.id, 'rf-1', 400);
    expect(await spendOf(taskId)).toBe(600);
    // A refund booked again (same refund id) gives nothing back twice.
    await h.repos.payments.refund(p1.payment.id, 'rf-1', 400);
    expect(await spendOf(taskId)).toBe(600);
    await expectOverDay(taskId, 'c', 2401, 3000, 2400);
    expect((await h.repos.payments.reserve(capped(taskId, 'c', 2400, 3000))).kind).toBe('reserved');
    await expectDayMatchesBooks(tenant);
  });

  it("counts only the tenant's own tasks, and only those created that day", async () => {
    const [t1, t2] = [freshTenant(), freshTenant()];
    const today = await taskOf(t1);
    expect((await h.repos.payments.reserve(capped(today, 'a', 1000, 1000))).kind).toBe('reserved');
    // Another tenant's day is its own.
    const theirs = await taskOf(t2);
    expect((await h.repos.payments.reserve(capped(theirs, 'a', 1000, 1000))).kind).toBe('reserved');
    // A task of the same tenant created yesterday counts against yesterday, whenever it spends.
    const yesterday = await taskOf(t1);
    await sql`update tasks set created_at = created_at - interval '1 day' where id = ${yesterday}`.execute(h.database.db);
    expect((await h.repos.payments.reserve(capped(yesterday, 'a', 1000, 1000))).kind).toBe('reserved');
    expect(await dayOf(yesterday)).not.toBe(await dayOf(today));
    expect(await spendOf(yesterday)).toBe(1000);
    await expectOverDay(today, 'b', 1, 1000, 0);
    await expectDayMatchesBooks(t1);
    await expectDayMatchesBooks(t2);
  });

  it('a redelivered reservation finds its payment and counts nothing twice', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant);
    expect((await h.repos.payments.reserve(capped(taskId, 'a', 800, 1000))).kind).toBe('reserved');
    expect((await h.repos.payments.reserve(capped(taskId, 'a', 800, 1000))).kind).toBe('existing');
    expect(await spendOf(taskId)).toBe(800);
  });

  it("reservations of many tasks of one tenant, racing, never take more than the cap together", async () => {
    const tenant = freshTenant();
    const tasks = await Promise.all(Array.from({ length: 12 }, () => taskOf(tenant, 5000)));
    const results = await Promise.all(tasks.map((t, i) => h.repos.payments.reserve(capped(t, `c${i}`, 1000, 5000))));
    expect(results.filter((r) => r.kind === 'reserved')).toHaveLength(5);
    for (const r of results) if (r.kind !== 'reserved') expect(r).toEqual({ kind: 'over_daily_limit', remaining: 0 });
    expect(await spendOf(tasks[0]!)).toBe(5000);
    await expectDayMatchesBooks(tenant);
  });

  it('the day can never go below zero: the database refuses a write that would (backstop)', async () => {
    const tenant = freshTenant();
    const taskId = await taskOf(tenant);
    await h.repos.payments.reserve(capped(taskId, 'a', 100, null));
    await expect(sql`update tenant_spend_daily set spend = spend - 101 where tenant = ${tenant}`.execute(h.database.db)).rejects.toThrow(/tenant_spend_daily/);
  });
});

describe("a payment's receipt at rest", () => {
  const attach = (id: number, receipt: string, expiresAt = new Date(Date.now() + 3600_000)) =>
    h.repos.payments.attachReceipt(id, { receiptId: `rcpt-${id}`, receipt, expiresAt });

  it('opens only on the row it was sealed for: a sealed receipt copied onto another payment is refused', async () => {
    const taskId = await newTask(5000);
    const mine = await captured(taskId, 'r1', 500);
    const other = await captured(taskId, 'r2', 500);
    const sealed = await attach(mine, 'proof-of-r1');
    expect(sealed.receipt).not.toContain('proof-of-r1');
    expect(h.repos.payments.receiptOf(sealed)).toBe('proof-of-r1');
    // Someone with write access to the table moves the receipt to a payment of their choosing.
    await h.database.db.updateTable('payments').set({ receipt: sealed.receipt }).where('id', '=', other).execute();
    const moved = (await h.repos.payments.get(other))!;
    expect(() => h.repos.payments.receiptOf(moved)).toThrow(/sealed for another row/);
  });

  it('is deleted once past its time from delivered, refunded and released payments only, keeping the receipt id', async () => {
    const taskId = await newTask(50_000);
    const past = new Date(Date.now() - 60_000);
    const byState: Record<string, number> = {};
    for (const state of ['reserved', 'unknown', 'captured', 'delivered', 'refunded', 'released'] as const) {
      const id = await captured(taskId, `p-${state}`, 100);
      await attach(id, `proof-${state}`, past);
      await h.database.db.updateTable('payments').set({ state }).where('id', '=', id).execute();
      byState[state] = id;
    }
    const fresh = await captured(taskId, 'p-fresh', 100);
    await attach(fresh, 'proof-fresh');
    await h.database.db.updateTable('payments').set({ state: 'delivered' }).where('id', '=', fresh).execute();

    expect(await h.repos.payments.purgeExpiredReceipts()).toBeGreaterThanOrEqual(3);
    const after = new Map((await h.repos.payments.forTask(taskId)).map((p) => [p.id, p]));
    for (const [state, id] of Object.entries(byState)) {
      const done = ['delivered', 'refunded', 'released'].includes(state);
      expect({ state, purged: after.get(id)!.receipt === null }).toEqual({ state, purged: done });
      expect(after.get(id)!.receipt_id).toBe(`rcpt-${id}`);
    }
    // Not yet past its time: kept, and it still opens.
    expect(h.repos.payments.receiptOf(after.get(fresh)!)).toBe('proof-fresh');
    expect(await h.repos.payments.purgeExpiredReceipts()).toBe(0);
  });
});

describe('what each movement tells: the story (a `payment` event) and the money metric, once', () => {
  const moved = async () => {
    const metric = await (await import('../telemetry/metrics.ts')).pipelineRegistry.getSingleMetric('arp_money_moved_fen_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.kind), v.value]));
  };
  const payments = async (taskId: string) => (await h.repos.events.since(taskId, 0)).filter((e) => e.type === 'payment').map((e) => e.data);

  it('reserve, capture and refund each write their event and count their fen; a replay of any writes and counts nothing', async () => {
    const taskId = await newTask(5000);
    const before = await moved();
    const r = await h.repos.payments.reserve(input(taskId, 'ev1', 1200));
    if (r.kind !== 'reserved') throw new Error(r.kind);
    expect((await h.repos.payments.reserve(input(taskId, 'ev1', 1200))).kind).toBe('existing');
    await h.repos.payments.capture(r.payment.id, 'ch-ev1');
    await h.repos.payments.capture(r.payment.id, 'ch-ev1');
    await h.repos.payments.refund(r.payment.id, 'rf-ev1', 300);
    await h.repos.payments.refund(r.payment.id, 'rf-ev1', 300);
    expect(await payments(taskId)).toEqual([
      { companyId: 'ev1', movement: 'reserve', amount: '12.00' },
      { companyId: 'ev1', movement: 'capture', amount: '12.00' },
      { companyId: 'ev1', movement: 'refund', amount: '3.00' },
    ]);
    const after = await moved();
    const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
    expect({ reserve: delta('reserve'), capture: delta('capture'), refund: delta('refund') }).toEqual({ reserve: 1200, capture: 1200, refund: 300 });
  });
});
