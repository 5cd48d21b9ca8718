import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openHarness, runningTask, waitFor, type Harness } from '../../test/support/harness.ts';
import { paymentKey } from './index.ts';
import type { ClaimInput } from './payments.ts';

/**
 * `PaymentRepository.claimAndReserve`: the detail stage's one write before it pays. In one statement it
 * looks for a record the tenant owns, takes the tenant's claim on buying the company, and reserves the
 * price — so two tasks of a tenant buying one company at once buy it once, and a task never buys what
 * the tenant got delivered a moment ago. (Its refusals are reserve's: payments.test.ts.)
 */
const TENANT = 'claims';
let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const WAIT: ClaimInput = { maxAgeSeconds: 3600, regardless: false };

/** A running task of the tenant that chose `companyId` (still `found`). */
async function taskBuying(companyId: string, budgetLimit = 5000): Promise<string> {
  const taskId = await runningTask(h, { id: randomUUID(), tenant: TENANT, theme: 'claims', budgetLimit });
  await h.repos.companies.saveCandidates(taskId, [
    {
      companyId, rank: 1, name: `Name ${companyId}`, industry: 'Batteries', city: 'Ningde', price: 1000, relevance: 1, chosen: true,
      decision: { action: 'buy', reason: 'picked', by: 'rules' }, basic: { summary: 'cells' },
    },
  ]);
  return taskId;
}

function ask(taskId: string, companyId: string, claim: ClaimInput = WAIT, amount = 1000) {
  const resource = `/company/detail?id=${companyId}`;
  return h.repos.payments.claimAndReserve({ taskId, companyId, tenant: TENANT, resource, amount, key: paymentKey(taskId, resource), claim });
}

const holderOf = async (companyId: string) =>
  (await h.database.db.selectFrom('purchase_claims').select('task_id').where('tenant', '=', TENANT).where('company_id', '=', companyId).executeTakeFirst())?.task_id;

/** What a task holds of the books: its payments, ledger and buckets (nothing, when it reserved nothing). */
async function books(taskId: string) {
  const t = (await h.repos.tasks.get(taskId))!;
  return { payments: (await h.repos.payments.forTask(taskId)).length, ledger: (await h.repos.payments.ledger(taskId)).length, reserved: t.reserved };
}
const NOTHING = { payments: 0, ledger: 0, reserved: 0 };

/** The holder's purchase charged and delivered (company bought, payment delivered, memory record): one statement. */
async function deliver(taskId: string, companyId: string, paymentId: number) {
  await h.repos.payments.captureWithReceipt(paymentId, `ch-${taskId}`, { receiptId: `rcpt-${taskId}`, receipt: 'proof', expiresAt: new Date(Date.now() + 3600_000) });
  await h.repos.payments.deliver(paymentId, { taskId, companyId, outcome: { detail: { name: `Name ${companyId}` }, receiptId: `rcpt-${taskId}` } });
}

describe('claimAndReserve: one purchase of a company per tenant at a time', () => {
  it('takes the claim with the reservation; another task of the tenant is told it is held, and writes nothing', async () => {
    const [a, b] = [await taskBuying('k1'), await taskBuying('k1')];
    const first = await ask(a, 'k1');
    expect(first.kind).toBe('reserved');
    expect(await holderOf('k1')).toBe(a);
    expect(await ask(b, 'k1')).toEqual({ kind: 'held', holder: a });
    expect(await books(b)).toEqual(NOTHING);
    expect(await holderOf('k1')).toBe(a);
    // The holder's job, redelivered, finds its own claim and its payment.
    expect(await ask(a, 'k1')).toMatchObject({ kind: 'existing', payment: { task_id: a } });
  });

  it('once the waiting is over (regardless), reserves all the same; the claim stays with the holder', async () => {
    const [a, b] = [await taskBuying('k2'), await taskBuying('k2')];
    expect((await ask(a, 'k2')).kind).toBe('reserved');
    expect((await ask(b, 'k2', { ...WAIT, regardless: true })).kind).toBe('reserved');
    expect(await holderOf('k2')).toBe(a);
    expect(await books(b)).toEqual({ payments: 1, ledger: 1, reserved: 1000 });
  });

  it("a holder's purchase that ended without a delivery passes the claim on: the next task reserves", async () => {
    const [a, b] = [await taskBuying('k3'), await taskBuying('k3')];
    const first = await ask(a, 'k3');
    if (first.kind !== 'reserved') throw new Error(first.kind);
    await h.repos.payments.release(first.payment.id, 'declined');
    // Released but its company not settled yet: still in flight.
    expect((await ask(b, 'k3')).kind).toBe('held');
    await h.repos.companies.settle(a, 'k3', 'failed', { error: { code: 'token_closed', message: 'declined' } });
    expect((await ask(b, 'k3')).kind).toBe('reserved');
    expect(await holderOf('k3')).toBe(b);
  });

  it("a record the tenant got delivered is used: remembered, with nothing claimed or reserved; maxAge 0 buys it all the same", async () => {
    const [a, b] = [await taskBuying('k4'), await taskBuying('k4')];
    const first = await ask(a, 'k4');
    if (first.kind !== 'reserved') throw new Error(first.kind);
    await deliver(a, 'k4', first.payment.id);
    expect(await ask(b, 'k4')).toMatchObject({ kind: 'remembered', record: { paymentId: first.payment.id, taskId: a, receiptId: `rcpt-${a}`, fields: { name: 'Name k4' } } });
    expect(await books(b)).toEqual(NOTHING);
    expect(await holderOf('k4')).toBe(a);
    // Outside the window it is not used.
    await sql`update memory_records set bought_at = now() - interval '2 hours' where company_id = 'k4'`.execute(h.database.db);
    const c = await taskBuying('k4');
    expect((await ask(c, 'k4')).kind).toBe('reserved');
    expect(await holderOf('k4')).toBe(c);
    const d = await taskBuying('k4');
    expect((await ask(d, 'k4', { maxAgeSeconds: 0, regardless: true })).kind).toBe('reserved');
  });

  it('a refused reservation takes no claim: another task of the tenant reserves at once', async () => {
    const poor = await taskBuying('k5', 500);
    expect(await ask(poor, 'k5')).toEqual({ kind: 'over_budget', remaining: 500 });
    expect(await holderOf('k5')).toBeUndefined();
    const rich = await taskBuying('k5');
    expect((await ask(rich, 'k5')).kind).toBe('reserved');
  });

  it('two tasks of the tenant racing for one company: exactly one reserves, the other is told it is held', async () => {
    for (let i = 0; i < 6; i++) {
      const companyId = `race-${i}`;
      const [a, b] = [await taskBuying(companyId), await taskBuying(companyId)];
      const answers = await Promise.all([ask(a, companyId), ask(b, companyId)]);
      expect(answers.map((r) => r.kind).sort()).toEqual(['held', 'reserved']);
      const winner = answers[0]!.kind === 'reserved' ? a : b;
      expect(await holderOf(companyId)).toBe(winner);
      expect(await books(winner === a ? b : a)).toEqual(NOTHING);
    }
  });

  // Needs two connections (PGlite has one).
  it.skipIf(!inject('databaseUrl'))('a delivery that commits while the reservation is under way is seen whole or not at all: held, never bought twice', async () => {
    const [a, b] = [await taskBuying('k6'), await taskBuying('k6')];
    const first = await ask(a, 'k6');
    if (first.kind !== 'reserved') throw new Error(first.kind);
    await h.repos.payments.capture(first.payment.id, `ch-${a}`);
    // Another transaction holds the claim row, so b's statement starts (takes its snapshot) and then waits on it.
    let unlock!: () => void;
    let lockerPid!: number;
    const locked = new Promise<void>((r) => (unlock = r));
    const locker = h.database.db.transaction().execute(async (trx) => {
      lockerPid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid;
      await sql`select 1 from purchase_claims where tenant = ${TENANT} and company_id = 'k6' for update`.execute(trx);
      await locked;
    });
    await waitFor(async () => (lockerPid ? true : undefined), 'the claim row locked');
    const waiting = ask(b, 'k6');
    await waitFor(
      async () => ((await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where ${lockerPid}::int = any(pg_blocking_pids(pid))`.execute(h.database.db)).rows[0]!.n > 0 ? true : undefined),
      'the reservation waiting on the claim',
    );
    // The holder delivers meanwhile: company bought, payment delivered, record remembered, in one commit.
    await h.repos.payments.deliver(first.payment.id, { taskId: a, companyId: 'k6', outcome: { detail: { name: 'Name k6' } } });
    unlock();
    await locker;
    // Its snapshot saw the holder in flight (no record yet, company still found): it waits rather than buys.
    expect(await waiting).toEqual({ kind: 'held', holder: a });
    expect(await books(b)).toEqual(NOTHING);
    // Asked again, it finds the record.
    expect(await ask(b, 'k6')).toMatchObject({ kind: 'remembered', record: { paymentId: first.payment.id } });
  });
});
