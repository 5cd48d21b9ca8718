import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { utcDay } from '../../shared/tenants/policy.ts';
import { admin, WITH_OPERATOR } from '../support/admin.ts';
import { openHarness, waitFor, type Harness } from '../support/harness.ts';

const CAP = 10_000; // 100.00 CNY a day

/**
 * The daily cap end to end (issue 8): twenty tasks of one tenant, each allowed 60.00, run at once
 * through every stage against a cap of 100.00 for the day — far less than they would buy together.
 * Their purchases race for what is left of the day; the tenant's day never goes over the cap, the
 * purchases that do not fit are skipped unpaid, and our books still agree with the issuer's.
 */
describe("twenty concurrent tasks of one tenant against its daily cap", () => {
  let h: Harness;
  let ids: string[] = [];

  beforeAll(async () => {
    h = await openHarness({ workers: 'all', env: { ...WITH_OPERATOR, API_KEYS: 'acme:test-key,crowd:crowd-key' } });
    expect((await admin(h, '/admin/tenants/crowd/policy', { method: 'PUT', body: { dailySpend: '100.00' } })).status).toBe(200);
    // All twenty are in before any of them buys (the submission check sees an untouched day).
    await h.producer.queues.search.pause();
    const posts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.api('/v1/tasks', { body: { theme: ['battery', 'semiconductor', 'logistics', 'robotics'][i % 4], budget: '60.00', voiceId: 'demo-voice', maxCompanies: 5 }, headers: { authorization: 'Bearer crowd-key' } }),
      ),
    );
    expect(posts.map((r) => r.status)).toEqual(Array(20).fill(202));
    ids = await Promise.all(posts.map(async (r) => ((await r.json()) as { id: string }).id));
    await h.producer.queues.search.resume();
    await waitFor(async () => {
      const open = await h.database.db.selectFrom('tasks').select('id').where('id', 'in', ids).where('status', 'in', ['queued', 'running']).execute();
      return open.length === 0 ? true : undefined;
    }, 'all twenty tasks to end', 120_000);
  }, 180_000);
  afterAll(async () => h?.close());

  it('the day ends at most at the cap, with the purchases that did not fit skipped and nothing of theirs paid', async () => {
    const tasks = await h.database.db.selectFrom('tasks').selectAll().where('id', 'in', ids).execute();
    expect(tasks.map((t) => t.status)).toEqual(Array(20).fill('completed'));
    const spent = tasks.reduce((s, t) => s + t.captured - t.refunded + t.reserved, 0);
    expect(spent).toBeLessThanOrEqual(CAP);
    for (const t of tasks) expect(t.reserved).toBe(0);
    const day = utcDay(tasks[0]!.created_at);
    expect(await h.repos.policies.spendOn('crowd', day)).toBe(spent);

    const companies = await h.database.db.selectFrom('companies').selectAll().where('task_id', 'in', ids).execute();
    const capped = companies.filter((c) => c.error_code === 'spending_limit_exceeded');
    // The cap was really contested: purchases were turned away, and what the day had left at the end
    // (nothing was given back in this run) could not have bought any of them either.
    expect(capped.length).toBeGreaterThan(5);
    for (const c of capped) {
      expect(c.status).toBe('skipped');
      expect(CAP - spent).toBeLessThan(c.price);
    }
    const paidFor = await h.database.db.selectFrom('payments').select(['task_id', 'company_id']).where('task_id', 'in', ids).where('amount', '>', 0).execute();
    for (const c of capped) expect(paidFor.some((p) => p.task_id === c.task_id && p.company_id === c.company_id)).toBe(false);
  });

  it('our books agree with the issuer, charge by charge', async () => {
    const { differences } = await reconcile(h.repos, h.deps.providers.issuer);
    expect(differences.filter((d) => ids.includes(d.taskId))).toEqual([]);
  });
});
