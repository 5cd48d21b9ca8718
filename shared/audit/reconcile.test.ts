import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAuthorize } from '../../queues/authorize/processor.ts';
import type { JobContext } from '../../queues/deps.ts';
import { processDetail } from '../../queues/detail/processor.ts';
import { processReport } from '../../queues/report/processor.ts';
import { processSearch } from '../../queues/search/processor.ts';
import { ISSUER_KEY, openHarness, type Harness } from '../../test/support/harness.ts';
import { paymentKey, repositories, type Database, type LedgerEntry, type Payment, type Task } from '../db/index.ts';
import { formatMoney } from '../money.ts';
import { reconcile, reconcileTask, type Difference } from './reconcile.ts';

/**
 * `reconcile` against books made for real: tasks run through the stage processors, so our Postgres
 * books and the issuer mock's books agree. Then each case changes exactly one fact of a task of its
 * own — a row of ours, or a movement on the issuer's own HTTP API (an independent third party) — and
 * the audit must name that difference, and only that one, with the right amounts and ids.
 * (Every case builds its task inside the test rather than in a shared beforeAll: cases cannot bleed
 * into each other, and the mutation run can tell which test covers which line.)
 */

const first: JobContext = { attempt: 1, isFinalAttempt: false };
const fmt = formatMoney;

/** A call to the issuer mock's own API, as a party outside our system would make it. */
async function issuerCall(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(`${h.mocks.urls.tokenIssuer}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ISSUER_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`issuer ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

let tasksMade = 0;

/** A task as the gateway stores it (queued), for a tenant of its own. */
async function newTask(h: Harness, theme: string): Promise<string> {
  const id = randomUUID();
  const created = await h.repos.tasks.create({
    id, tenant: `audit-${++tasksMade}`, idempotency_key: null, request_hash: null, theme, voice_id: 'demo-voice', currency: 'CNY',
    max_companies: 3, status: 'queued', stage: null, budget_limit: 6000, token_id: null, error_code: null, error_message: null, ended_at: null,
  });
  expect(created.kind).toBe('created');
  return id;
}

/**
 * A task that has searched and holds its token: the detail stage comes next. Each task belongs to a
 * tenant of its own, so no record is reused from another task (every chosen company is paid for).
 */
async function authorizedTask(h: Harness, theme: string): Promise<{ taskId: string; companyIds: string[] }> {
  const id = await newTask(h, theme);
  await processSearch({ taskId: id }, h.deps, first);
  await processAuthorize({ taskId: id }, h.deps, first);
  const companyIds = (await h.repos.companies.chosen(id)).map((c) => c.company_id);
  expect(companyIds).toHaveLength(3);
  return { taskId: id, companyIds };
}

/** The detail stage buys one company's record (the marketplace delivers it incomplete: part is refunded). */
async function buy(h: Harness, taskId: string, companyId: string): Promise<void> {
  expect(await processDetail({ taskId, companyId }, h.deps, first)).toEqual({ outcome: 'bought', companyId });
}

/** The detail stage reserved a company's price, then its worker died before the pay call. */
async function reserveOnly(h: Harness, taskId: string, companyId: string): Promise<void> {
  const company = (await h.repos.companies.get(taskId, companyId))!;
  const resource = h.deps.providers.marketplace.resourceOf(companyId);
  const { tenant } = (await h.repos.tasks.get(taskId))!;
  const r = await h.repos.payments.reserve({ taskId, companyId, tenant, resource, amount: company.price, key: paymentKey(taskId, resource) });
  expect(r.kind).toBe('reserved');
}

/** The report stage: closes the token, settles what is open, completes the task. */
async function finish(h: Harness, taskId: string): Promise<void> {
  await processReport({ taskId }, h.deps, first);
  expect((await h.repos.tasks.get(taskId))!.status).toBe('completed');
}

interface Books {
  task: Task;
  payments: Payment[];
  ledger: LedgerEntry[];
  tokenId: string;
}

async function booksOf(h: Harness, taskId: string): Promise<Books> {
  const task = (await h.repos.tasks.get(taskId))!;
  return { task, payments: await h.repos.payments.forTask(taskId), ledger: await h.repos.payments.ledger(taskId), tokenId: h.repos.tasks.tokenOf(task)! };
}

const spentOf = (t: Task) => t.captured - t.refunded;
const byKind = (ds: Difference[]) => [...ds].sort((a, b) => a.kind.localeCompare(b.kind) || a.detail.localeCompare(b.detail));

/** Our books and the issuer's agree on an ended task: nothing to report, and both sides hold the same money. */
async function expectAgreement(h: Harness, taskId: string): Promise<void> {
  const r = await reconcile(h.repos, h.deps.providers.issuer, taskId);
  expect(r.differences).toEqual([]);
  expect(r.inFlight).toEqual([]);
  const task = (await h.repos.tasks.get(taskId))!;
  expect(r.checked).toEqual([{ taskId, status: task.status, ours: spentOf(task), issuer: spentOf(task) }]);
}

/** Each task's fixture shape, made for real by the processors (the marketplace delivers every record incomplete). */
const fixtures = {
  /** Completed: two records bought (each partly refunded as incomplete), one reservation released when the task ended. */
  ended: async (h: Harness): Promise<Books> => {
    const { taskId, companyIds } = await authorizedTask(h, 'battery');
    await buy(h, taskId, companyIds[0]!);
    await buy(h, taskId, companyIds[1]!);
    await reserveOnly(h, taskId, companyIds[2]!);
    await finish(h, taskId);
    return booksOf(h, taskId);
  },
  /** Cancelled by the client while one record was bought and another reserved: the next stage carried the cancel out. */
  cancelled: async (h: Harness): Promise<Books> => {
    const { taskId, companyIds } = await authorizedTask(h, 'battery');
    await buy(h, taskId, companyIds[0]!);
    await reserveOnly(h, taskId, companyIds[1]!);
    const { tenant } = (await h.repos.tasks.get(taskId))!;
    expect(await h.repos.tasks.requestCancel(taskId, tenant)).toBe(true);
    await processReport({ taskId }, h.deps, first);
    const b = await booksOf(h, taskId);
    expect(b.task).toMatchObject({ status: 'cancelled', reserved: 0 });
    expect(b.payments.map((p) => p.state)).toEqual(['delivered', 'released']);
    return b;
  },
  /** Running: one record bought, one reservation held, and the token closed (the report stage died right after closing it). */
  holding: async (h: Harness): Promise<Books> => {
    const { taskId, companyIds } = await authorizedTask(h, 'battery');
    await buy(h, taskId, companyIds[0]!);
    await reserveOnly(h, taskId, companyIds[1]!);
    await h.deps.providers.issuer.close(h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!);
    return booksOf(h, taskId);
  },
  /** Running: every record bought, the token still active (the report stage has not run yet). */
  bought: async (h: Harness): Promise<Books> => {
    const { taskId, companyIds } = await authorizedTask(h, 'battery');
    for (const companyId of companyIds) await buy(h, taskId, companyId);
    return booksOf(h, taskId);
  },
};

/** The payments of an `ended` fixture (two delivered, partly refunded, and one released), or of a `cancelled` one. */
const delivered = (b: Books) => b.payments.filter((p) => p.state === 'delivered');
const released = (b: Books) => b.payments.find((p) => p.state === 'released')!;
const ledgerRow = (b: Books, p: Payment, kind: string) => b.ledger.find((l) => l.payment_id === p.id && l.kind === kind)!;

/** A running task's books are consistent: not compared by `reconcile` (in flight), and `reconcileTask` finds nothing. */
async function expectConsistentRunning(h: Harness, b: Books): Promise<void> {
  expect(b.task.status).toBe('running');
  expect(await reconcile(h.repos, h.deps.providers.issuer, b.task.id)).toEqual({ checked: [], inFlight: [b.task.id], differences: [] });
  const r = await reconcileTask(h.repos, b.task, await h.deps.providers.issuer.tokensFor(b.task.id));
  expect(r).toEqual({ balance: { taskId: b.task.id, status: 'running', ours: spentOf(b.task), issuer: spentOf(b.task) }, differences: [] });
}

describe('reconcile: one corrupted fact, one difference (issuer books by the mock, ours by the processors)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ faults: { detail_partial: 1 } });
  });
  afterAll(async () => h?.close());

  it('books made for real agree with the issuer, to the fen, in every bucket', async () => {
    const b = await fixtures.ended(h);
    // Every movement is there: reserve, capture, partial refund, release.
    expect(b.task).toMatchObject({ status: 'completed', reserved: 0 });
    expect(b.task.captured).toBeGreaterThan(0);
    expect(b.task.refunded).toBeGreaterThan(0);
    expect(b.task.released).toBeGreaterThan(0);
    expect(delivered(b)).toHaveLength(2);
    for (const p of delivered(b)) {
      expect(p.refunded_amount).toBeGreaterThan(0);
      expect(p.refunded_amount).toBeLessThan(p.amount);
      expect(p.charge_id).not.toBeNull();
    }
    expect(released(b).charge_id).toBeNull();
    expect(new Set(b.ledger.map((l) => l.kind))).toEqual(new Set(['reserve', 'capture', 'refund', 'release']));
    await expectAgreement(h, b.task.id);

    const tokens = await h.deps.providers.issuer.tokensFor(b.task.id);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.status).toBe('closed');
    expect(tokens[0]!.charges.map((c) => [c.id, c.amount, c.refundedAmount]).sort()).toEqual(delivered(b).map((p) => [p.charge_id, p.amount, p.refunded_amount]).sort());

    // Asked for in upper case, the task is found by the id it is stored under (and the issuer knows it by).
    const upper = await reconcile(h.repos, h.deps.providers.issuer, b.task.id.toUpperCase());
    expect(upper).toEqual({ checked: [{ taskId: b.task.id, status: 'completed', ours: spentOf(b.task), issuer: spentOf(b.task) }], inFlight: [], differences: [] });
  });

  it('running tasks are in flight, not compared; their books are consistent all the same', async () => {
    const holding = await fixtures.holding(h);
    expect(holding.task.reserved).toBeGreaterThan(0);
    await expectConsistentRunning(h, holding);
    const bought = await fixtures.bought(h);
    expect(bought.task.reserved).toBe(0);
    await expectConsistentRunning(h, bought);
  });

  interface OursCase {
    kind: string;
    fact: string;
    fixture: keyof typeof fixtures;
    corrupt: (db: Kysely<Database>, b: Books) => Promise<unknown>;
    /** Every difference the audit must report: [kind, detail]. */
    expected: (b: Books) => [string, string][];
  }

  const oursCases: OursCase[] = [
    {
      kind: 'net_mismatch',
      fact: 'a refund booked twice (a second ledger row under another key, and the task bucket with it)',
      fixture: 'ended',
      corrupt: async (db, b) => {
        const p = delivered(b)[0]!;
        await db.insertInto('ledger_entries').values({ task_id: p.task_id, payment_id: p.id, kind: 'refund', amount: p.refunded_amount, event_key: `${p.idempotency_key}:refund:again` }).execute();
        await db.updateTable('tasks').set({ refunded: sql<number>`refunded + ${p.refunded_amount}` }).where('id', '=', p.task_id).execute();
      },
      expected: (b) => [['net_mismatch', `ours ${fmt(spentOf(b.task) - delivered(b)[0]!.refunded_amount)} ≠ issuer ${fmt(spentOf(b.task))}`]],
    },
    {
      kind: 'ledger_capture',
      fact: 'a capture row booked as a release',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('ledger_entries').set({ kind: 'release' }).where('id', '=', ledgerRow(b, delivered(b)[0]!, 'capture').id).execute(),
      expected: (b) => [['ledger_capture', `ledger captures ${fmt(b.task.captured - delivered(b)[0]!.amount)} ≠ task captured ${fmt(b.task.captured)}`]],
    },
    {
      kind: 'ledger_refund',
      fact: 'a refund row one fen larger than the refund',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('ledger_entries').set({ amount: sql<number>`amount + 1` }).where('id', '=', ledgerRow(b, delivered(b)[1]!, 'refund').id).execute(),
      expected: (b) => [['ledger_refund', `ledger refunds ${fmt(b.task.refunded + 1)} ≠ task refunded ${fmt(b.task.refunded)}`]],
    },
    {
      kind: 'ledger_reserved',
      fact: 'the release row of a released reservation lost',
      fixture: 'ended',
      corrupt: (db, b) => db.deleteFrom('ledger_entries').where('id', '=', ledgerRow(b, released(b), 'release').id).execute(),
      expected: (b) => [['ledger_reserved', `ledger holds ${fmt(released(b).amount)} ≠ task reserved 0.00`]],
    },
    {
      kind: 'charge_id',
      fact: 'a payment recording another charge id than the issuer’s',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('payments').set({ charge_id: 'ch_forged' }).where('id', '=', delivered(b)[0]!.id).execute(),
      expected: (b) => [['charge_id', `payment ${delivered(b)[0]!.id} records charge ch_forged, issuer has ${delivered(b)[0]!.charge_id}`]],
    },
    {
      kind: 'charge_id',
      fact: 'a charged payment that lost its charge id',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('payments').set({ charge_id: null }).where('id', '=', delivered(b)[1]!.id).execute(),
      expected: (b) => [['charge_id', `payment ${delivered(b)[1]!.id} records charge none, issuer has ${delivered(b)[1]!.charge_id}`]],
    },
    {
      kind: 'charge_amount',
      fact: 'a payment 0.50 dearer than the issuer charged',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('payments').set({ amount: sql<number>`amount + 50` }).where('id', '=', delivered(b)[1]!.id).execute(),
      expected: (b) => [['charge_amount', `payment ${delivered(b)[1]!.id} is ${fmt(delivered(b)[1]!.amount + 50)}, issuer charged ${fmt(delivered(b)[1]!.amount)}`]],
    },
    {
      kind: 'refund_amount',
      fact: 'a payment whose refund is not recorded on it',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('payments').set({ refunded_amount: 0 }).where('id', '=', delivered(b)[0]!.id).execute(),
      expected: (b) => [['refund_amount', `payment ${delivered(b)[0]!.id} refunded 0.00, issuer ${fmt(delivered(b)[0]!.refunded_amount)}`]],
    },
    {
      kind: 'missing_charge',
      fact: 'a released payment claiming a charge the issuer never made',
      fixture: 'ended',
      corrupt: (db, b) => db.updateTable('payments').set({ charge_id: 'ch_phantom' }).where('id', '=', released(b).id).execute(),
      expected: (b) => [['missing_charge', `payment ${released(b).id} says charged (ch_phantom) but the issuer has no such charge`]],
    },
    {
      kind: 'held_after_end',
      fact: 'a task ended while a reservation is still held',
      fixture: 'holding',
      corrupt: (db, b) => db.updateTable('tasks').set({ status: 'failed', stage: null, ended_at: sql<Date>`now()` }).where('id', '=', b.task.id).execute(),
      expected: (b) => [['held_after_end', `${fmt(b.task.reserved)} still reserved after the task failed`]],
    },
    {
      kind: 'held_after_end',
      fact: 'a release that never happened (no release row, the money still in the reserved bucket)',
      fixture: 'cancelled',
      corrupt: async (db, b) => {
        const p = released(b);
        await db.updateTable('tasks').set({ reserved: sql<number>`reserved + ${p.amount}`, released: sql<number>`released - ${p.amount}` }).where('id', '=', p.task_id).execute();
        await db.deleteFrom('ledger_entries').where('id', '=', ledgerRow(b, p, 'release').id).execute();
      },
      expected: (b) => [['held_after_end', `${fmt(released(b).amount)} still reserved after the task cancelled`]],
    },
    {
      kind: 'token_open',
      fact: 'a task marked completed before its token was closed',
      fixture: 'bought',
      corrupt: (db, b) => db.updateTable('tasks').set({ status: 'completed', stage: null, ended_at: sql<Date>`now()` }).where('id', '=', b.task.id).execute(),
      // The token is named by its hint: its id is a credential, even in an operator's report.
      expected: (b) => [['token_open', `token tok_…${b.tokenId.slice(-2)} is still active after the task completed`]],
    },
  ];

  it.each(oursCases)('$kind: $fact', async (c) => {
    const b = await fixtures[c.fixture](h);
    if (b.task.status !== 'running') await expectAgreement(h, b.task.id);
    else await expectConsistentRunning(h, b);
    await c.corrupt(h.database.db, b);
    const found = await reconcile(h.repos, h.deps.providers.issuer, b.task.id);
    expect(found.inFlight).toEqual([]);
    expect(byKind(found.differences)).toEqual(byKind(c.expected(b).map(([kind, detail]) => ({ taskId: b.task.id, kind, detail }))));
  });

  interface IssuerCase {
    kind: string;
    fact: string;
    /** Done on the issuer while the task's token is still active (before the report stage). */
    whileRunning?: (taskId: string, tokenId: string) => Promise<unknown>;
    /** Done on the issuer after the task completed. */
    afterEnd?: (b: Books) => Promise<unknown>;
    expected: (b: Books, made: unknown) => [string, string][];
  }

  const issuerCases: IssuerCase[] = [
    {
      kind: 'foreign_charge',
      fact: 'a charge on the task’s token made (and refunded) by someone else, under a key that is not ours',
      whileRunning: async (_taskId, tokenId) => {
        const charge = await issuerCall(h, `/v1/tokens/${tokenId}/charges`, { amount: '3.00', merchantId: 'marketplace', description: '/company/detail?id=rogue' }, { 'idempotency-key': `rogue-${randomUUID()}` });
        await issuerCall(h, `/v1/charges/${charge.id}/refunds`, {});
        return charge;
      },
      expected: (_b, charge) => [['foreign_charge', `issuer charge ${(charge as { id: string }).id} (3.00) on this task's token was not made by us`]],
    },
    {
      kind: 'unbooked_charge',
      fact: 'a charge under one of our keys that our books never recorded (and refunded)',
      whileRunning: async (taskId, tokenId) => {
        const charge = await issuerCall(h, `/v1/tokens/${tokenId}/charges`, { amount: '3.00', merchantId: 'marketplace', description: '/company/detail?id=lost' }, { 'idempotency-key': `arp-${taskId}-_company_detail_id=lost` });
        await issuerCall(h, `/v1/charges/${charge.id}/refunds`, {});
        return charge;
      },
      expected: (_b, charge) => [['unbooked_charge', `issuer charge ${(charge as { id: string }).id} (3.00) has no payment of ours`]],
    },
    {
      kind: 'several_tokens',
      fact: 'a second token issued (and closed, unused) for the task',
      afterEnd: async (b) => {
        const token = await issuerCall(h, '/v1/tokens', { amount: '10.00', currency: 'CNY', merchantId: 'marketplace', reference: b.task.id });
        await issuerCall(h, `/v1/tokens/${token.id}/close`, {});
      },
      expected: () => [['several_tokens', '2 tokens reference this task']],
    },
    {
      kind: 'refund_amount',
      fact: 'a refund the issuer made that we never booked',
      afterEnd: async (b) => issuerCall(h, `/v1/charges/${b.payments[0]!.charge_id}/refunds`, { amount: '1.00' }),
      expected: (b) => {
        const p = b.payments[0]!;
        return [
          ['refund_amount', `payment ${p.id} refunded ${fmt(p.refunded_amount)}, issuer ${fmt(p.refunded_amount + 100)}`],
          ['net_mismatch', `ours ${fmt(spentOf(b.task))} ≠ issuer ${fmt(spentOf(b.task) - 100)}`],
        ];
      },
    },
  ];

  it.each(issuerCases)('$kind: $fact', async (c) => {
    const { taskId, companyIds } = await authorizedTask(h, 'battery');
    for (const companyId of companyIds) await buy(h, taskId, companyId);
    const made = await c.whileRunning?.(taskId, h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!);
    await finish(h, taskId);
    const b = await booksOf(h, taskId);
    if (c.whileRunning === undefined) await expectAgreement(h, taskId);
    const after = c.afterEnd ? await c.afterEnd(b) : made;
    const found = await reconcile(h.repos, h.deps.providers.issuer, taskId);
    expect(byKind(found.differences)).toEqual(byKind(c.expected(b, after).map(([kind, detail]) => ({ taskId, kind, detail }))));
  });
});

describe('reconcile: the full audit, every task and every token at the issuer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('compares ended tasks, lists running ones, and reports money the issuer holds under references we do not know', async () => {
    // A task that completed cleanly, one whose charge the issuer later refunded behind our back, one still running.
    const clean = await authorizedTask(h, 'battery');
    for (const companyId of clean.companyIds) await buy(h, clean.taskId, companyId);
    await finish(h, clean.taskId);
    // A task that found nothing worth buying: it completed without ever asking the issuer for a token.
    const tokenless = await newTask(h, 'zqxv');
    await processSearch({ taskId: tokenless }, h.deps, first);
    await finish(h, tokenless);
    expect((await h.repos.tasks.get(tokenless))!.token_id).toBeNull();
    const tampered = await authorizedTask(h, 'battery');
    for (const companyId of tampered.companyIds) await buy(h, tampered.taskId, companyId);
    await finish(h, tampered.taskId);
    const running = await authorizedTask(h, 'battery');
    await buy(h, running.taskId, running.companyIds[0]!);

    const tamperedPayment = (await h.repos.payments.forTask(tampered.taskId))[0]!;
    await issuerCall(h, `/v1/charges/${tamperedPayment.charge_id}/refunds`, { amount: '0.50' });

    // Money under a reference that is no task of ours; and a reference whose charge was refunded in full (nothing held).
    const stranger = randomUUID();
    const other = await issuerCall(h, '/v1/tokens', { amount: '5.00', currency: 'CNY', merchantId: 'marketplace', reference: stranger });
    await issuerCall(h, `/v1/tokens/${other.id}/charges`, { amount: '4.50', merchantId: 'marketplace' }, { 'idempotency-key': `rogue-${randomUUID()}` });
    const settled = randomUUID();
    const quiet = await issuerCall(h, '/v1/tokens', { amount: '5.00', currency: 'CNY', merchantId: 'marketplace', reference: settled });
    const back = await issuerCall(h, `/v1/tokens/${quiet.id}/charges`, { amount: '2.00', merchantId: 'marketplace' }, { 'idempotency-key': `rogue-${randomUUID()}` });
    await issuerCall(h, `/v1/charges/${back.id}/refunds`, {});

    const [cleanTask, tamperedTask] = [(await h.repos.tasks.get(clean.taskId))!, (await h.repos.tasks.get(tampered.taskId))!];
    const all = await reconcile(h.repos, h.deps.providers.issuer);
    expect(all.inFlight).toEqual([running.taskId]);
    expect([...all.checked].sort((a, b) => a.taskId.localeCompare(b.taskId))).toEqual(
      [
        { taskId: clean.taskId, status: 'completed', ours: spentOf(cleanTask), issuer: spentOf(cleanTask) },
        { taskId: tampered.taskId, status: 'completed', ours: spentOf(tamperedTask), issuer: spentOf(tamperedTask) - 50 },
        { taskId: tokenless, status: 'completed', ours: 0, issuer: 0 },
      ].sort((a, b) => a.taskId.localeCompare(b.taskId)),
    );
    expect(byKind(all.differences)).toEqual(
      byKind([
        { taskId: tampered.taskId, kind: 'net_mismatch', detail: `ours ${fmt(spentOf(tamperedTask))} ≠ issuer ${fmt(spentOf(tamperedTask) - 50)}` },
        { taskId: tampered.taskId, kind: 'refund_amount', detail: `payment ${tamperedPayment.id} refunded ${fmt(tamperedPayment.refunded_amount)}, issuer ${fmt(tamperedPayment.refunded_amount + 50)}` },
        { taskId: stranger, kind: 'unknown_reference', detail: 'issuer holds 4.50 charged for a task we do not know' },
      ]),
    );

    // One reference at a time: the same answers.
    expect(await reconcile(h.repos, h.deps.providers.issuer, stranger)).toEqual({
      checked: [],
      inFlight: [],
      differences: [{ taskId: stranger, kind: 'unknown_reference', detail: 'issuer holds 4.50 charged for a task we do not know' }],
    });
    await expect(reconcile(h.repos, h.deps.providers.issuer, settled)).rejects.toThrow(`no task ${settled}`);
    await expect(reconcile(h.repos, h.deps.providers.issuer, randomUUID())).rejects.toThrow(/^no task /);
    expect(await reconcile(h.repos, h.deps.providers.issuer, running.taskId)).toEqual({ checked: [], inFlight: [running.taskId], differences: [] });
    expect((await reconcile(h.repos, h.deps.providers.issuer, clean.taskId)).differences).toEqual([]);
  });
});
