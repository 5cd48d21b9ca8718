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
 * books and the issuer mock's books agree. Then each case changes exactly one fact — a row of ours
 * (inside a transaction that is rolled back afterwards) or a movement on the issuer's own HTTP API
 * (an independent third party; on a task of its own) — and the audit must name that difference, and
 * only that one, with the right amounts and ids.
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

/** A task posted through the gateway that has searched and holds its token: the detail stage comes next. */
async function authorizedTask(h: Harness, theme: string): Promise<{ taskId: string; companyIds: string[] }> {
  const res = await h.api('/v1/tasks', { body: { theme, budget: '60.00', voiceId: 'demo-voice', maxCompanies: 3 } });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
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
  const r = await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key: paymentKey(taskId, resource) });
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
  return { task, payments: await h.repos.payments.forTask(taskId), ledger: await h.repos.payments.ledger(taskId), tokenId: task.token_id! };
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

class Rollback extends Error {}

/** Runs `fn` inside a transaction that is always rolled back: the corruption never outlives the case. */
async function rolledBack<T>(h: Harness, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  let out: T | undefined;
  try {
    await h.database.db.transaction().execute(async (trx) => {
      out = await fn(trx);
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return out!;
}

describe('reconcile: one corrupted fact, one difference (issuer books by the mock, ours by the processors)', () => {
  let h: Harness;
  /** Completed: two records bought (each partly refunded as incomplete), one reservation released at the end. */
  let ended: Books;
  /** Running: one record bought, one reservation held, and the token already closed (the report stage died after closing it). */
  let holding: Books;
  /** Running: every record bought, token still active (the report stage has not run yet). */
  let bought: Books;

  beforeAll(async () => {
    h = await openHarness({ faults: { detail_partial: 1 } });

    const a = await authorizedTask(h, 'battery');
    await buy(h, a.taskId, a.companyIds[0]!);
    await buy(h, a.taskId, a.companyIds[1]!);
    await reserveOnly(h, a.taskId, a.companyIds[2]!);
    await finish(h, a.taskId);
    ended = await booksOf(h, a.taskId);

    const b = await authorizedTask(h, 'semiconductor');
    await buy(h, b.taskId, b.companyIds[0]!);
    await reserveOnly(h, b.taskId, b.companyIds[1]!);
    await h.deps.providers.issuer.close((await h.repos.tasks.get(b.taskId))!.token_id!);
    holding = await booksOf(h, b.taskId);

    const c = await authorizedTask(h, 'logistics');
    for (const companyId of c.companyIds) await buy(h, c.taskId, companyId);
    bought = await booksOf(h, c.taskId);
  });
  afterAll(async () => h?.close());

  /** The payments of the ended task: the two delivered (partly refunded) and the released one. */
  const delivered = () => ended.payments.filter((p) => p.state === 'delivered');
  const released = () => ended.payments.find((p) => p.state === 'released')!;
  const ledgerRow = (p: Payment, kind: string) => ended.ledger.find((l) => l.payment_id === p.id && l.kind === kind)!;

  it('the books made for real agree with the issuer, to the fen, in every bucket', async () => {
    // The ended task exercises every movement: reserve, capture, partial refund, release.
    expect(ended.task).toMatchObject({ status: 'completed', reserved: 0 });
    expect(ended.task.captured).toBeGreaterThan(0);
    expect(ended.task.refunded).toBeGreaterThan(0);
    expect(ended.task.released).toBeGreaterThan(0);
    expect(delivered()).toHaveLength(2);
    for (const p of delivered()) {
      expect(p.refunded_amount).toBeGreaterThan(0);
      expect(p.refunded_amount).toBeLessThan(p.amount);
      expect(p.charge_id).not.toBeNull();
    }
    expect(released().charge_id).toBeNull();
    expect(new Set(ended.ledger.map((l) => l.kind))).toEqual(new Set(['reserve', 'capture', 'refund', 'release']));
    await expectAgreement(h, ended.task.id);

    const tokens = await h.deps.providers.issuer.tokensFor(ended.task.id);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.status).toBe('closed');
    expect(tokens[0]!.charges.map((c) => [c.id, c.amount, c.refundedAmount]).sort()).toEqual(
      delivered().map((p) => [p.charge_id, p.amount, p.refunded_amount]).sort(),
    );
  });

  it('running tasks are in flight, not compared; their books are consistent all the same', async () => {
    for (const books of [holding, bought]) {
      expect(books.task.status).toBe('running');
      expect(await reconcile(h.repos, h.deps.providers.issuer, books.task.id)).toEqual({ checked: [], inFlight: [books.task.id], differences: [] });
      const r = await reconcileTask(h.repos, books.task, await h.deps.providers.issuer.tokensFor(books.task.id));
      expect(r.differences).toEqual([]);
      expect(r.balance).toEqual({ taskId: books.task.id, status: 'running', ours: spentOf(books.task), issuer: spentOf(books.task) });
    }
    expect(holding.task.reserved).toBeGreaterThan(0);
    expect(bought.task.reserved).toBe(0);
  });

  it('finds a task given in upper case by the id it is stored under (and the issuer knows it by)', async () => {
    const r = await reconcile(h.repos, h.deps.providers.issuer, ended.task.id.toUpperCase());
    expect(r.differences).toEqual([]);
    expect(r.checked).toEqual([{ taskId: ended.task.id, status: 'completed', ours: spentOf(ended.task), issuer: spentOf(ended.task) }]);
  });

  interface OursCase {
    kind: string;
    fact: string;
    books: () => Books;
    corrupt: (db: Kysely<Database>) => Promise<unknown>;
    /** Every difference the audit must report: [kind, detail]. */
    expected: () => [string, string][];
  }

  const oursCases: OursCase[] = [
    {
      kind: 'net_mismatch',
      fact: 'a refund booked twice (a second ledger row under another key, and the task bucket with it)',
      books: () => ended,
      corrupt: async (db) => {
        const p = delivered()[0]!;
        await db.insertInto('ledger_entries').values({ task_id: p.task_id, payment_id: p.id, kind: 'refund', amount: p.refunded_amount, event_key: `${p.idempotency_key}:refund:again` }).execute();
        await db.updateTable('tasks').set({ refunded: sql<number>`refunded + ${p.refunded_amount}` }).where('id', '=', p.task_id).execute();
      },
      expected: () => [['net_mismatch', `ours ${fmt(spentOf(ended.task) - delivered()[0]!.refunded_amount)} ≠ issuer ${fmt(spentOf(ended.task))}`]],
    },
    {
      kind: 'ledger_capture',
      fact: 'a capture row booked as a release',
      books: () => ended,
      corrupt: (db) => db.updateTable('ledger_entries').set({ kind: 'release' }).where('id', '=', ledgerRow(delivered()[0]!, 'capture').id).execute(),
      expected: () => [['ledger_capture', `ledger captures ${fmt(ended.task.captured - delivered()[0]!.amount)} ≠ task captured ${fmt(ended.task.captured)}`]],
    },
    {
      kind: 'ledger_refund',
      fact: 'a refund row one fen larger than the refund',
      books: () => ended,
      corrupt: (db) => db.updateTable('ledger_entries').set({ amount: sql<number>`amount + 1` }).where('id', '=', ledgerRow(delivered()[1]!, 'refund').id).execute(),
      expected: () => [['ledger_refund', `ledger refunds ${fmt(ended.task.refunded + 1)} ≠ task refunded ${fmt(ended.task.refunded)}`]],
    },
    {
      kind: 'ledger_reserved',
      fact: 'the release row of a released reservation lost',
      books: () => ended,
      corrupt: (db) => db.deleteFrom('ledger_entries').where('id', '=', ledgerRow(released(), 'release').id).execute(),
      expected: () => [['ledger_reserved', `ledger holds ${fmt(released().amount)} ≠ task reserved 0.00`]],
    },
    {
      kind: 'charge_id',
      fact: 'a payment recording another charge id than the issuer’s',
      books: () => ended,
      corrupt: (db) => db.updateTable('payments').set({ charge_id: 'ch_forged' }).where('id', '=', delivered()[0]!.id).execute(),
      expected: () => [['charge_id', `payment ${delivered()[0]!.id} records charge ch_forged, issuer has ${delivered()[0]!.charge_id}`]],
    },
    {
      kind: 'charge_id',
      fact: 'a charged payment that lost its charge id',
      books: () => ended,
      corrupt: (db) => db.updateTable('payments').set({ charge_id: null }).where('id', '=', delivered()[1]!.id).execute(),
      expected: () => [['charge_id', `payment ${delivered()[1]!.id} records charge none, issuer has ${delivered()[1]!.charge_id}`]],
    },
    {
      kind: 'charge_amount',
      fact: 'a payment 0.50 dearer than the issuer charged',
      books: () => ended,
      corrupt: (db) => db.updateTable('payments').set({ amount: sql<number>`amount + 50` }).where('id', '=', delivered()[1]!.id).execute(),
      expected: () => [['charge_amount', `payment ${delivered()[1]!.id} is ${fmt(delivered()[1]!.amount + 50)}, issuer charged ${fmt(delivered()[1]!.amount)}`]],
    },
    {
      kind: 'refund_amount',
      fact: 'a payment whose refund is not recorded on it',
      books: () => ended,
      corrupt: (db) => db.updateTable('payments').set({ refunded_amount: 0 }).where('id', '=', delivered()[0]!.id).execute(),
      expected: () => [['refund_amount', `payment ${delivered()[0]!.id} refunded 0.00, issuer ${fmt(delivered()[0]!.refunded_amount)}`]],
    },
    {
      kind: 'missing_charge',
      fact: 'a released payment claiming a charge the issuer never made',
      books: () => ended,
      corrupt: (db) => db.updateTable('payments').set({ charge_id: 'ch_phantom' }).where('id', '=', released().id).execute(),
      expected: () => [['missing_charge', `payment ${released().id} says charged (ch_phantom) but the issuer has no such charge`]],
    },
    {
      kind: 'held_after_end',
      fact: 'a task ended while a reservation is still held',
      books: () => holding,
      corrupt: (db) => db.updateTable('tasks').set({ status: 'failed', stage: null, ended_at: sql<Date>`now()` }).where('id', '=', holding.task.id).execute(),
      expected: () => [['held_after_end', `${fmt(holding.task.reserved)} still reserved after the task failed`]],
    },
    {
      kind: 'held_after_end',
      fact: 'a release that never happened (no release row, the money still in the reserved bucket)',
      books: () => ended,
      corrupt: async (db) => {
        const p = released();
        await db.updateTable('tasks').set({ reserved: sql<number>`reserved + ${p.amount}`, released: sql<number>`released - ${p.amount}` }).where('id', '=', p.task_id).execute();
        await db.deleteFrom('ledger_entries').where('id', '=', ledgerRow(p, 'release').id).execute();
      },
      expected: () => [['held_after_end', `${fmt(released().amount)} still reserved after the task completed`]],
    },
    {
      kind: 'token_open',
      fact: 'a task marked completed before its token was closed',
      books: () => bought,
      corrupt: (db) => db.updateTable('tasks').set({ status: 'completed', stage: null, ended_at: sql<Date>`now()` }).where('id', '=', bought.task.id).execute(),
      expected: () => [['token_open', `token ${bought.tokenId} is still active after the task completed`]],
    },
  ];

  it.each(oursCases)('$kind: $fact', async (c) => {
    const taskId = c.books().task.id;
    const found = await rolledBack(h, async (db) => {
      await c.corrupt(db);
      return reconcile(repositories({ ...h.database, db }), h.deps.providers.issuer, taskId);
    });
    expect(found.inFlight).toEqual([]);
    expect(byKind(found.differences)).toEqual(byKind(c.expected().map(([kind, detail]) => ({ taskId, kind, detail }))));
    // The corruption is gone with its transaction: the next case starts from the same books.
    if (c.books().task.status === 'completed') await expectAgreement(h, taskId);
    else expect((await reconcile(h.repos, h.deps.providers.issuer, taskId)).inFlight).toEqual([taskId]);
  });

  interface IssuerCase {
    kind: string;
    fact: string;
    theme: string;
    /** Done on the issuer while the task's token is still active (before the report stage). */
    whileRunning?: (taskId: string, tokenId: string) => Promise<unknown>;
    /** Done on the issuer after the task completed. */
    afterEnd?: (books: Books) => Promise<unknown>;
    expected: (books: Books, made: unknown) => [string, string][];
  }

  const issuerCases: IssuerCase[] = [
    {
      kind: 'unbooked_charge',
      fact: 'a charge on the task’s token made (and refunded) outside our books',
      theme: 'biotech',
      whileRunning: async (_taskId, tokenId) => {
        const charge = await issuerCall(h, `/v1/tokens/${tokenId}/charges`, { amount: '3.00', merchantId: 'marketplace', description: '/company/detail?id=rogue' }, { 'idempotency-key': `rogue-${randomUUID()}` });
        await issuerCall(h, `/v1/charges/${charge.id}/refunds`, {});
        return charge;
      },
      expected: (_books, charge) => [['unbooked_charge', `issuer charge ${(charge as { id: string }).id} (3.00) has no payment of ours`]],
    },
    {
      kind: 'several_tokens',
      fact: 'a second token issued (and closed, unused) for the task',
      theme: 'solar',
      afterEnd: async (books) => {
        const token = await issuerCall(h, '/v1/tokens', { amount: '10.00', currency: 'CNY', merchantId: 'marketplace', reference: books.task.id });
        await issuerCall(h, `/v1/tokens/${token.id}/close`, {});
      },
      expected: () => [['several_tokens', '2 tokens reference this task']],
    },
    {
      kind: 'refund_amount',
      fact: 'a refund the issuer made that we never booked',
      theme: 'robotics',
      afterEnd: async (books) => issuerCall(h, `/v1/charges/${books.payments[0]!.charge_id}/refunds`, { amount: '1.00' }),
      expected: (books) => {
        const p = books.payments[0]!;
        return [
          ['refund_amount', `payment ${p.id} refunded ${fmt(p.refunded_amount)}, issuer ${fmt(p.refunded_amount + 100)}`],
          ['net_mismatch', `ours ${fmt(spentOf(books.task))} ≠ issuer ${fmt(spentOf(books.task) - 100)}`],
        ];
      },
    },
  ];

  it.each(issuerCases)('$kind: $fact', async (c) => {
    const { taskId, companyIds } = await authorizedTask(h, c.theme);
    for (const companyId of companyIds) await buy(h, taskId, companyId);
    const made = await c.whileRunning?.(taskId, (await h.repos.tasks.get(taskId))!.token_id!);
    await finish(h, taskId);
    const books = await booksOf(h, taskId);
    if (c.whileRunning === undefined) await expectAgreement(h, taskId);
    const after = c.afterEnd ? await c.afterEnd(books) : made;
    const found = await reconcile(h.repos, h.deps.providers.issuer, taskId);
    expect(byKind(found.differences)).toEqual(byKind(c.expected(books, after).map(([kind, detail]) => ({ taskId, kind, detail }))));
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
    const clean = await authorizedTask(h, 'fintech');
    for (const companyId of clean.companyIds) await buy(h, clean.taskId, companyId);
    await finish(h, clean.taskId);
    const tampered = await authorizedTask(h, 'e-commerce');
    for (const companyId of tampered.companyIds) await buy(h, tampered.taskId, companyId);
    await finish(h, tampered.taskId);
    const running = await authorizedTask(h, 'biotech');
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
