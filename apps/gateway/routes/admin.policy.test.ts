import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../../../shared/db/index.ts';
import { admin, VIEWER, WITH_OPERATOR } from '../../../test/support/admin.ts';
import { openHarness, runningTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * GET and PUT /admin/tenants/:tenant/policy (issue 8): what applies is the tenant's own value where it
 * set one, else the configured default (TENANT_*); null takes a value back to the default; money is a
 * decimal string. Changes need the operator login and are audited with what they were and became.
 */
describe('/admin/tenants/:tenant/policy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { ...WITH_OPERATOR, TENANT_MAX_BUDGET: '500.00', TENANT_OPEN_TASKS: '40' } });
  });
  afterAll(async () => h?.close());

  const get = async (tenant: string) => (await (await admin(h, `/admin/tenants/${tenant}/policy`)).json()) as any;
  const put = (tenant: string, body: unknown, as?: Record<string, string>) => admin(h, `/admin/tenants/${tenant}/policy`, { method: 'PUT', body, as });

  it('a tenant without overrides runs on the defaults; today shows its spend', async () => {
    expect(await get('plain')).toEqual({
      tenant: 'plain',
      tasksPerMinute: 120,
      openTasks: 40,
      maxBudget: '500.00',
      dailySpend: null,
      currency: 'CNY',
      overrides: {},
      defaults: { tasksPerMinute: 120, openTasks: 40, maxBudget: '500.00', dailySpend: null },
      today: { day: new Date().toISOString().slice(0, 10), spend: '0.00', remaining: null },
    });
  });

  it('PUT sets what it names, leaves the rest, and answers with what applies now; null goes back to the default', async () => {
    const res = await put('tuned', { dailySpend: '300.00', tasksPerMinute: 10 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      tasksPerMinute: 10,
      openTasks: 40,
      maxBudget: '500.00',
      dailySpend: '300.00',
      overrides: { tasksPerMinute: 10, dailySpend: '300.00' },
      today: { spend: '0.00', remaining: '300.00' },
      updatedBy: 'operator',
      updatedAt: expect.any(String),
    });
    // A number with at most two decimals is money too; the other override stays.
    expect(await (await put('tuned', { maxBudget: 50.5 })).json()).toMatchObject({ maxBudget: '50.50', dailySpend: '300.00', tasksPerMinute: 10 });
    expect(await (await put('tuned', { tasksPerMinute: null, maxBudget: null })).json()).toMatchObject({
      tasksPerMinute: 120,
      maxBudget: '500.00',
      dailySpend: '300.00',
      overrides: { dailySpend: '300.00' },
    });
    expect((await get('tuned')).overrides).toEqual({ dailySpend: '300.00' });
  });

  it("today's spend is what the tenant's tasks created today reserve and spend", async () => {
    await put('spender', { dailySpend: '100.00' });
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'spender', theme: 't', budgetLimit: 5_000 });
    const resource = '/company/detail?id=a';
    await h.repos.payments.reserve({ taskId, companyId: 'a', tenant: 'spender', resource, amount: 1_250, key: paymentKey(taskId, resource), dailyCap: 10_000 });
    expect((await get('spender')).today).toMatchObject({ spend: '12.50', remaining: '87.50' });
  });

  it("one tenant's policy is its own: another tenant still sees the defaults", async () => {
    await put('left', { openTasks: 3, maxBudget: '10.00' });
    expect(await get('right')).toMatchObject({ openTasks: 40, maxBudget: '500.00', overrides: {} });
  });

  it('each change is recorded with who, from where, what it was and what it became', async () => {
    await put('audited', { dailySpend: '80.00' });
    await admin(h, '/admin/tenants/audited/policy', { method: 'PUT', body: { dailySpend: null, openTasks: 7 }, address: '198.51.100.23' });
    const rows = await h.database.db.selectFrom('operator_audit').selectAll().where('tenant', '=', 'audited').orderBy('id').execute();
    expect(rows.map((r) => r.details)).toEqual([
      { before: {}, after: { dailySpend: '80.00' }, changes: { dailySpend: '80.00' } },
      { before: { dailySpend: '80.00' }, after: { openTasks: 7 }, changes: { dailySpend: null, openTasks: 7 } },
    ]);
    expect(rows[1]).toMatchObject({ action: 'policy.updated', actor: 'operator', role: 'operator', target: 'audited', address: '198.51.100.23', user_agent: 'admin-test/1.0' });
  });

  it('the read-only admin login reads a policy but may not change it (403), and nothing changes', async () => {
    expect((await admin(h, '/admin/tenants/guarded/policy', { as: VIEWER })).status).toBe(200);
    await expectProblem(await put('guarded', { openTasks: 1 }, VIEWER), 403, 'forbidden');
    expect((await get('guarded')).overrides).toEqual({});
  });

  it.each([
    [{}, '(root)'],
    [{ tasksPerMinute: 0 }, 'tasksPerMinute'],
    [{ tasksPerMinute: 1.5 }, 'tasksPerMinute'],
    [{ tasksPerMinute: '10' }, 'tasksPerMinute'],
    [{ openTasks: -1 }, 'openTasks'],
    [{ openTasks: 1_000_001 }, 'openTasks'],
    [{ maxBudget: '0.00' }, 'maxBudget'],
    [{ maxBudget: '0.001' }, 'maxBudget'],
    [{ maxBudget: '100000.01' }, 'maxBudget'],
    [{ maxBudget: 0.30000000000000004 }, 'maxBudget'],
    [{ dailySpend: '-5.00' }, 'dailySpend'],
    [{ dailySpend: 'lots' }, 'dailySpend'],
    [{ dailySpend: '10000000000.01' }, 'dailySpend'],
    [{ daily_spend: '5.00' }, 'daily_spend'],
  ])('%j is a 400 naming %s, and changes nothing', async (body, path) => {
    const problem = await expectProblem(await put('validated', body), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect((await get('validated')).overrides).toEqual({});
  });

  it('a body that is not JSON is 415; a bad tenant a 400', async () => {
    await expectProblem(await admin(h, '/admin/tenants/x/policy', { method: 'PUT', body: 'openTasks=1', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    const problem = await expectProblem(await admin(h, '/admin/tenants/bad%20name/policy'), 400, 'validation_failed');
    expect(problem.errors).toEqual([{ path: 'tenant', message: expect.any(String) }]);
  });
});
