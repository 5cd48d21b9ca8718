import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { ISSUER_KEY, openHarness, type Harness } from '../../test/support/harness.ts';
import { logSink } from '../../test/support/log-sink.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../../test/support/stages.ts';
import { processDetail } from '../detail/processor.ts';
import { processReport } from './processor.ts';
import { failTask } from '../settle.ts';

const ADMIN = { authorization: `Basic ${Buffer.from('admin:test-admin').toString('base64')}` };

/**
 * Money moved by someone else with a task's token (it leaked, or the marketplace charged on its own) is
 * not ours: reconcile names it `foreign_charge`, and the operators' dashboard marks the task.
 */
describe('a charge on our token that we did not make', () => {
  let h: Harness;
  const log = logSink();
  const warnings = (taskId: string) => log.lines().filter((l) => l.taskId === taskId && l.msg === 'charges on the task token that we did not make');
  beforeAll(async () => {
    h = await openHarness({ logTo: log.stream, env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => h?.close());

  /** Whoever holds a task's token can charge it, as the marketplace would: a charge under a key not ours. */
  async function chargedByAThief(taskId: string, amount: string) {
    const tokenId = h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!;
    const res = await fetch(`${h.mocks.urls.tokenIssuer}/v1/tokens/${tokenId}/charges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ISSUER_KEY}`, 'content-type': 'application/json', 'idempotency-key': `thief-${randomUUID()}` },
      body: JSON.stringify({ amount, merchantId: 'marketplace', description: '/company/detail?id=whatever' }),
    });
    expect(res.status).toBe(201);
    return { tokenId, stolen: (await res.json()) as { id: string } };
  }

  it('is found when the task closes its money, marked on the dashboard, and reported by reconcile', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'semiconductor', budget: '60.00' });
    const { tokenId, stolen } = await chargedByAThief(taskId, '7.50');
    for (const companyId of companyIds) await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT);
    await processReport({ taskId }, h.deps, FIRST_ATTEMPT);

    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.status).toBe('completed');
    expect(task.foreign_charged).toBe(750);
    const events = await h.database.db.selectFrom('task_events').select(['kind', 'data']).where('task_id', '=', taskId).where('kind', '=', 'foreign_charge').execute();
    expect(events.map((e) => e.data)).toEqual([{ total: '7.50', charges: [{ chargeId: stolen.id, amount: '7.50' }] }]);
    // The on-call is told at once (a leaked token is an incident), without the token.
    expect(warnings(taskId)).toEqual([expect.objectContaining({ level: 40, taskId, charges: 1 })]);
    expect(JSON.stringify(log.lines())).not.toContain(tokenId);

    const found = await reconcile(h.repos, h.deps.providers.issuer, taskId);
    expect(found.differences.filter((d) => d.kind === 'foreign_charge')).toEqual([
      { taskId, kind: 'foreign_charge', detail: `issuer charge ${stolen.id} (7.50) on this task's token was not made by us` },
    ]);

    const dashboard = (await (await h.api('/admin/dashboard.json', { headers: ADMIN })).json()) as any;
    expect(dashboard.summary.foreignCharges).toBe(1);
    expect(dashboard.tasks.find((t: any) => t.id === taskId).foreignCharged).toBe('7.50');
    const page = await (await h.api('/admin/dashboard', { headers: ADMIN })).text();
    expect(page).toMatch(new RegExp(`<tr id="task-${taskId}" class="[a-z_]+ foreign"`));
    expect(page).toContain('charged by someone else: 7.50');

    // Closing again (a redelivered report) records it once.
    await processReport({ taskId }, h.deps, FIRST_ATTEMPT);
    expect(await h.database.db.selectFrom('task_events').select('seq').where('task_id', '=', taskId).where('kind', '=', 'foreign_charge').execute()).toHaveLength(1);
  });

  it('a charge the issuer lists without an idempotency key is not ours either (nothing throws on it)', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'battery', budget: '60.00' });
    const tokenId = h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!;
    const res = await fetch(`${h.mocks.urls.tokenIssuer}/v1/tokens/${tokenId}/charges`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ISSUER_KEY}`, 'content-type': 'application/json', 'idempotency-key': `thief-${randomUUID()}` },
      body: JSON.stringify({ amount: '3.25', merchantId: 'marketplace', description: '/company/detail?id=whatever' }),
    });
    const stolen = (await res.json()) as { id: string };
    // A real issuer may list a charge made without a key: the key is optional in its contract.
    const issuer = h.deps.providers.issuer;
    const keyless = <T extends { charges: { id: string; idempotencyKey?: string | null }[] }>(t: T): T => ({
      ...t,
      charges: t.charges.map((c) => (c.id === stolen.id ? { ...c, idempotencyKey: null } : c)),
    });
    const lying = Object.assign(Object.create(Object.getPrototypeOf(issuer)), issuer, {
      getToken: async (id: string, signal?: AbortSignal) => keyless(await issuer.getToken(id, signal)),
      tokensFor: async (reference: string, signal?: AbortSignal) => (await issuer.tokensFor(reference, signal)).map(keyless),
    });
    const deps = { ...h.deps, providers: { ...h.deps.providers, issuer: lying } };
    for (const companyId of companyIds) await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT);
    await processReport({ taskId }, deps, FIRST_ATTEMPT);

    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.status).toBe('completed');
    expect(task.foreign_charged).toBe(325);
    const found = await reconcile(h.repos, lying, taskId);
    expect(found.differences.filter((d) => d.kind === 'foreign_charge')).toEqual([
      { taskId, kind: 'foreign_charge', detail: `issuer charge ${stolen.id} (3.25) on this task's token was not made by us` },
    ]);
  });

  it('is found too when the task fails instead of reporting (its money closed by failTask)', async () => {
    const { taskId } = await readyForDetail(h, { theme: 'robotics', budget: '60.00' });
    await chargedByAThief(taskId, '3.25');
    await failTask(h.deps, taskId, 'internal_error', 'a stage failed for good');
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.status).toBe('failed');
    expect(task.foreign_charged).toBe(325);
  });

  it('a task whose every charge is ours carries no mark', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'logistics', budget: '60.00' });
    for (const companyId of companyIds) await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT);
    await processReport({ taskId }, h.deps, FIRST_ATTEMPT);
    expect((await h.repos.tasks.get(taskId))!.foreign_charged).toBe(0);
    expect(warnings(taskId)).toEqual([]);
    const dashboard = (await (await h.api('/admin/dashboard.json', { headers: ADMIN })).json()) as any;
    expect(dashboard.tasks.find((t: any) => t.id === taskId)).not.toHaveProperty('foreignCharged');
    expect((await reconcile(h.repos, h.deps.providers.issuer, taskId)).differences).toEqual([]);
  });
});
