import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../../../shared/db/index.ts';
import { admin, WITH_OPERATOR } from '../../../test/support/admin.ts';
import { openHarness, postTask, runningTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';
import { createApp } from '../app.ts';
import { TenantRateLimit } from '../tenant-rate.ts';

/**
 * POST /v1/tasks within the tenant's spending policy (issue 8). Before, 1,000 POSTs in 3 s were all
 * accepted, each able to spend up to 100,000.00. Now: more than `tasksPerMinute` submissions is 429
 * rate_limited with Retry-After (counted in Redis, across replicas), more than `openTasks` queued or
 * running is 429 too_many_open_tasks, a budget over `maxBudget` or over what remains of the day's
 * `dailySpend` is 422 spending_limit_exceeded. Defaults come from TENANT_*, overrides from the admin API.
 */
describe('POST /v1/tasks: the tenant spending policy', () => {
  let h: Harness;
  const KEYS = ['acme:test-key', 'other:other-key', 'rate:rate-key', 'open:open-key', 'max:max-key', 'day:day-key', 'burst:burst-key', 'replay:replay-key', 'down:down-key'];
  beforeAll(async () => {
    h = await openHarness({ env: { ...WITH_OPERATOR, API_KEYS: KEYS.join(','), TENANT_TASKS_PER_MINUTE: '20', TENANT_OPEN_TASKS: '50', TENANT_MAX_BUDGET: '1000.00' } });
  });
  afterAll(async () => h?.close());

  const as = (tenant: string) => ({ authorization: `Bearer ${tenant}-key` });
  const body = (theme: string, budget: string | number = '5.00') => ({ theme, budget, voiceId: 'demo-voice' });
  const post = (tenant: string, b = body('t'), headers: Record<string, string> = {}) => h.api('/v1/tasks', { body: b, headers: { ...as(tenant), ...headers } });
  const setPolicy = async (tenant: string, policy: Record<string, unknown>) => expect((await admin(h, `/admin/tenants/${tenant}/policy`, { method: 'PUT', body: policy })).status).toBe(200);
  const tasksOf = async (tenant: string) => (await h.database.db.selectFrom('tasks').select('id').where('tenant', '=', tenant).execute()).length;

  it('thirty submissions at once against the default of twenty a minute: exactly twenty are accepted, the rest 429 with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post('burst', body(`burst ${i}`))));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const refused = answers.find((r) => r.status === 429)!;
    const problem = await expectProblem(refused, 429, 'rate_limited');
    expect(problem.detail).toContain('20 tasks a minute');
    const wait = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(wait) && wait >= 1 && wait <= 60).toBe(true);
    expect(await tasksOf('burst')).toBe(20);
    // Another tenant is not held back by this one.
    expect((await post('other')).status).toBe(202);
  });

  it("a tenant's own tasksPerMinute applies, and every gateway replica counts together (Redis)", async () => {
    await setPolicy('rate', { tasksPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await post('rate', body(`r${i}`))).status).toBe(202);
    await expectProblem(await post('rate'), 429, 'rate_limited');
    const replica = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: h.redis, log: h.deps.log, config: h.config });
    const res = await replica.request('/v1/tasks', { method: 'POST', headers: { ...as('rate'), 'content-type': 'application/json' }, body: JSON.stringify(body('via replica')) });
    await expectProblem(res, 429, 'rate_limited');
    expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await tasksOf('rate')).toBe(3);
  });

  it('the window slides: after waiting what Retry-After said, a submission is possible again', async () => {
    const limiter = new TenantRateLimit(h.redis, h.config.QUEUE_PREFIX, h.deps.log, 2_000);
    expect(await limiter.take('slide', 2)).toEqual({ ok: true });
    expect(await limiter.take('slide', 2)).toEqual({ ok: true });
    const refused = await limiter.take('slide', 2);
    if (refused.ok) throw new Error('expected a refusal');
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, refused.retryAfterSeconds * 1000));
    expect(await limiter.take('slide', 2)).toEqual({ ok: true });
  });

  it('a limit lowered below what the window holds waits until enough has left it, not just the oldest', async () => {
    const limiter = new TenantRateLimit(h.redis, h.config.QUEUE_PREFIX, h.deps.log, 2_000);
    for (let i = 0; i < 3; i++) {
      expect(await limiter.take('lowered', 3)).toEqual({ ok: true });
      if (i < 2) await new Promise((r) => setTimeout(r, 500));
    }
    // One a minute now: all three must leave, the newest about 2 s from now (the oldest in about 1 s).
    expect(await limiter.take('lowered', 1)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('a replay of an idempotency key already used is answered even when the tenant is at its limits, and counts for nothing', async () => {
    await setPolicy('replay', { tasksPerMinute: 1 });
    const first = await post('replay', body('once'), { 'idempotency-key': 'replay-1' });
    expect(first.status).toBe(202);
    const again = await post('replay', body('once'), { 'idempotency-key': 'replay-1' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await expectProblem(await post('replay', body('other body'), { 'idempotency-key': 'replay-1' }), 422, 'idempotency_conflict');
    await expectProblem(await post('replay', body('new'), { 'idempotency-key': 'replay-2' }), 429, 'rate_limited');
    expect(await tasksOf('replay')).toBe(1);
  });

  it('more open (queued or running) tasks than openTasks is 429 too_many_open_tasks; an ended task makes room', async () => {
    await setPolicy('open', { openTasks: 2 });
    const a = await postTask(h, body('o1'), as('open'));
    await postTask(h, body('o2'), as('open'));
    const problem = await expectProblem(await post('open', body('o3')), 429, 'too_many_open_tasks');
    expect(problem.detail).toContain('2 tasks queued or running');
    await h.repos.tasks.end(a, 'completed');
    expect((await post('open', body('o3'))).status).toBe(202);
  });

  it('a budget over maxBudget is 422 spending_limit_exceeded naming budget; the default (TENANT_MAX_BUDGET) applies without an override', async () => {
    const overDefault = await expectProblem(await post('max', body('big', '1000.01')), 422, 'spending_limit_exceeded');
    expect(overDefault.errors).toEqual([{ path: 'budget', message: 'must be at most 1000.00 for this tenant' }]);
    expect((await post('max', body('at default', '1000.00'))).status).toBe(202);
    await setPolicy('max', { maxBudget: '20.00' });
    await expectProblem(await post('max', body('big', '20.01')), 422, 'spending_limit_exceeded');
    expect((await post('max', body('fits', 20))).status).toBe(202);
    // Back to the default.
    await setPolicy('max', { maxBudget: null });
    expect((await post('max', body('default again', '999.00'))).status).toBe(202);
  });

  it("a budget over what remains of today's dailySpend is 422 spending_limit_exceeded, naming what remains", async () => {
    await setPolicy('day', { dailySpend: '100.00' });
    // 70.00 of today's cap is reserved by a running task already.
    const running = await runningTask(h, { id: crypto.randomUUID(), tenant: 'day', theme: 'spending', budgetLimit: 10_000 });
    const resource = '/company/detail?id=x';
    expect((await h.repos.payments.reserve({ taskId: running, companyId: 'x', tenant: 'day', resource, amount: 7_000, key: paymentKey(running, resource), dailyCap: 10_000 })).kind).toBe('reserved');
    const problem = await expectProblem(await post('day', body('too much', '30.01')), 422, 'spending_limit_exceeded');
    expect(problem.detail).toContain('30.00 of 100.00');
    expect(problem.errors[0].path).toBe('budget');
    expect((await post('day', body('what remains', '30.00'))).status).toBe(202);
  });

  it('a bad request is refused before it counts: a 400 does not use up the minute', async () => {
    await setPolicy('acme', { tasksPerMinute: 1 });
    for (let i = 0; i < 3; i++) await expectProblem(await h.api('/v1/tasks', { body: { theme: '', budget: '1.00', voiceId: 'v' } }), 400, 'validation_failed');
    expect((await h.api('/v1/tasks', { body: body('counted') })).status).toBe(202);
    await expectProblem(await h.api('/v1/tasks', { body: body('second') }), 429, 'rate_limited');
  });

  it('without Redis the rate limit steps aside; the limits kept in Postgres still hold', async () => {
    await setPolicy('down', { tasksPerMinute: 1, openTasks: 2 });
    const down = { status: 'end' } as never;
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: down, log: h.deps.log, config: h.config });
    const send = () => app.request('/v1/tasks', { method: 'POST', headers: { ...as('down'), 'content-type': 'application/json' }, body: JSON.stringify(body('no redis')) });
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(202);
    await expectProblem(await send(), 429, 'too_many_open_tasks');
  });
});
