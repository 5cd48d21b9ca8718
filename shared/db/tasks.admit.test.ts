import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, runningTask, type Harness } from '../../test/support/harness.ts';
import { statementsOf } from '../../test/support/statements.ts';
import { openDatabase } from './connect.ts';
import { paymentKey, repositories, type NewTask } from './index.ts';
import { keyringFrom } from '../crypto/keyring.ts';

/**
 * TaskRepository.admit: a new task is created within its tenant's open-task limit and what remains of
 * its daily spending cap, counted under a per-tenant lock so concurrent submissions cannot slip past
 * together; a replayed idempotency key is answered before any limit.
 */
let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const freshTenant = () => `admit-${randomUUID().slice(0, 8)}`;
const NO_LIMITS = { openTasks: 1_000_000, dailySpend: null };

function newTask(tenant: string, budget = 1000, key: string | null = null, hash: string | null = null): NewTask {
  return {
    id: randomUUID(), tenant, idempotency_key: key, request_hash: hash, theme: 'battery', voice_id: 'demo-voice', currency: 'CNY',
    max_companies: 5, status: 'queued', stage: null, budget_limit: budget, token_id: null, error_code: null, error_message: null, ended_at: null,
  };
}

describe('open tasks: queued + running, per tenant', () => {
  it('refuses the submission past the limit, naming how many are open; an ended task makes room', async () => {
    const tenant = freshTenant();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await h.repos.tasks.admit(newTask(tenant), { openTasks: 3, dailySpend: null });
      if (r.kind !== 'created') throw new Error(`expected created, got ${r.kind}`);
      made.push(r.task.id);
    }
    expect(await h.repos.tasks.admit(newTask(tenant), { openTasks: 3, dailySpend: null })).toEqual({ kind: 'too_many_open_tasks', open: 3 });
    // Running counts as open too.
    await h.repos.tasks.enterStage(made[0]!, 'search');
    expect((await h.repos.tasks.admit(newTask(tenant), { openTasks: 3, dailySpend: null })).kind).toBe('too_many_open_tasks');
    await h.repos.tasks.end(made[0]!, 'completed');
    expect((await h.repos.tasks.admit(newTask(tenant), { openTasks: 3, dailySpend: null })).kind).toBe('created');
    // Another tenant has its own count.
    expect((await h.repos.tasks.admit(newTask(freshTenant()), { openTasks: 3, dailySpend: null })).kind).toBe('created');
  });

  it('forty submissions at once against a limit of ten: exactly ten are created', async () => {
    const tenant = freshTenant();
    // A pool of its own, so the submissions really run at once on Postgres.
    const wide = h.database.kind === 'postgres' ? await openDatabase({ databaseUrl: h.config.DATABASE_URL, schema: h.config.DATABASE_SCHEMA, dataDir: h.config.DATA_DIR, poolSize: 20 }) : undefined;
    const repos = wide ? repositories(wide, keyringFrom(h.config.DATA_ENCRYPTION_KEYS)) : h.repos;
    try {
      const results = await Promise.all(Array.from({ length: 40 }, () => repos.tasks.admit(newTask(tenant), { openTasks: 10, dailySpend: null })));
      expect(results.filter((r) => r.kind === 'created')).toHaveLength(10);
      expect(results.filter((r) => r.kind === 'too_many_open_tasks')).toHaveLength(30);
      const { n } = await h.database.db.selectFrom('tasks').select(sql<number>`count(*)::int`.as('n')).where('tenant', '=', tenant).executeTakeFirstOrThrow();
      expect(n).toBe(10);
    } finally {
      await wide?.close();
    }
  });
});

describe("the daily cap at submission: a budget larger than what remains of today's cap is refused", () => {
  it('counts what the tenant has reserved and spent today; exactly what remains is accepted', async () => {
    const tenant = freshTenant();
    const spender = await runningTask(h, { id: randomUUID(), tenant, theme: 'x', budgetLimit: 5000 });
    const resource = '/company/detail?id=a';
    await h.repos.payments.reserve({ taskId: spender, companyId: 'a', tenant, resource, amount: 3000, key: paymentKey(spender, resource), dailyCap: 10_000 });
    expect(await h.repos.tasks.admit(newTask(tenant, 7001), { openTasks: 100, dailySpend: 10_000 })).toEqual({ kind: 'over_daily_limit', remaining: 7000 });
    expect((await h.repos.tasks.admit(newTask(tenant, 7000), { openTasks: 100, dailySpend: 10_000 })).kind).toBe('created');
    // A cap already used up (or lowered below the day's spend) leaves nothing, never a negative amount.
    expect(await h.repos.tasks.admit(newTask(tenant, 1), { openTasks: 100, dailySpend: 2000 })).toEqual({ kind: 'over_daily_limit', remaining: 0 });
    // Without a cap, the day does not matter.
    expect((await h.repos.tasks.admit(newTask(tenant, 9000), { openTasks: 100, dailySpend: null })).kind).toBe('created');
  });

  it("another tenant's spending, or the tenant's spending of another day, does not count", async () => {
    const [tenant, other] = [freshTenant(), freshTenant()];
    const old = await runningTask(h, { id: randomUUID(), tenant, theme: 'x', budgetLimit: 5000 });
    await sql`update tasks set created_at = created_at - interval '1 day' where id = ${old}`.execute(h.database.db);
    const theirs = await runningTask(h, { id: randomUUID(), tenant: other, theme: 'x', budgetLimit: 5000 });
    for (const [taskId, who] of [[old, tenant], [theirs, other]] as const) {
      const resource = '/company/detail?id=a';
      await h.repos.payments.reserve({ taskId, companyId: 'a', tenant: who, resource, amount: 5000, key: paymentKey(taskId, resource), dailyCap: null });
    }
    expect((await h.repos.tasks.admit(newTask(tenant, 5000), { openTasks: 100, dailySpend: 5000 })).kind).toBe('created');
  });
});

describe('an idempotency key already used is answered before any limit', () => {
  it('the same request gives back its task even when the tenant is at its limits; another request is a conflict', async () => {
    const tenant = freshTenant();
    const first = await h.repos.tasks.admit(newTask(tenant, 1000, 'k-1', 'hash-a'), NO_LIMITS);
    if (first.kind !== 'created') throw new Error('expected created');
    const full = { openTasks: 1, dailySpend: 1 };
    expect(await h.repos.tasks.admit(newTask(tenant, 1000, 'k-1', 'hash-a'), full)).toEqual({ kind: 'replayed', task: first.task });
    expect(await h.repos.tasks.admit(newTask(tenant, 1000, 'k-1', 'hash-b'), full)).toEqual({ kind: 'conflict' });
    expect(await h.repos.tasks.replayOf({ tenant, idempotency_key: 'k-1', request_hash: 'hash-a' })).toEqual({ kind: 'replayed', task: first.task });
    expect(await h.repos.tasks.replayOf({ tenant, idempotency_key: 'k-2', request_hash: 'hash-a' })).toBeUndefined();
    expect(await h.repos.tasks.replayOf({ tenant, idempotency_key: null, request_hash: 'hash-a' })).toBeUndefined();
    // Keys are per tenant: another tenant's same key is a new task.
    expect((await h.repos.tasks.admit(newTask(freshTenant(), 1000, 'k-1', 'hash-a'), NO_LIMITS)).kind).toBe('created');
  });

  it('the same key submitted twice at once creates one task', async () => {
    const tenant = freshTenant();
    const results = await Promise.all(Array.from({ length: 6 }, () => h.repos.tasks.admit(newTask(tenant, 1000, 'same', 'hash'), NO_LIMITS)));
    expect(results.filter((r) => r.kind === 'created')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'replayed')).toHaveLength(5);
  });

  it('costs two statements in one transaction: the lock, then one look-and-insert (refused or created alike)', async () => {
    if (h.database.kind !== 'postgres') return;
    const tenant = freshTenant();
    const limits = { openTasks: 1, dailySpend: 5000 };
    const created = await statementsOf(() => h.repos.tasks.admit(newTask(tenant, 1000), limits));
    expect(created.result.kind).toBe('created');
    expect({ statements: created.statements, transactions: created.transactions }).toEqual({ statements: 2, transactions: 1 });
    const refused = await statementsOf(() => h.repos.tasks.admit(newTask(tenant, 1000), limits));
    expect(refused.result).toEqual({ kind: 'too_many_open_tasks', open: 1 });
    expect({ statements: refused.statements, transactions: refused.transactions }).toEqual({ statements: 2, transactions: 1 });
  });

  it('stores text as a text parameter would: a lone surrogate becomes U+FFFD, the rest exactly as given', async () => {
    const task = { ...newTask(freshTenant()), theme: "battery \ud800 makers 🔋 '); drop table tasks; --" };
    const r = await h.repos.tasks.admit(task, NO_LIMITS);
    if (r.kind !== 'created') throw new Error('expected created');
    expect((await h.repos.tasks.get(r.task.id))!.theme).toBe("battery \ufffd makers 🔋 '); drop table tasks; --");
  });

  it('a created task has its created event, as create() gives it', async () => {
    const r = await h.repos.tasks.admit(newTask(freshTenant()), NO_LIMITS);
    if (r.kind !== 'created') throw new Error('expected created');
    const events = await h.database.db.selectFrom('task_events').select(['seq', 'kind', 'data']).where('task_id', '=', r.task.id).execute();
    expect(events).toEqual([{ seq: 1, kind: 'created', data: { status: 'queued' } }]);
    expect((await h.repos.events.heads([r.task.id])).get(r.task.id)).toBe(1);
    // What admit answers is the row as stored, defaults and all.
    expect(r.task).toEqual(await h.repos.tasks.get(r.task.id));
  });
});
