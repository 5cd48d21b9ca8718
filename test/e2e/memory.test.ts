import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney, parseMoney } from '../../shared/money.ts';
import { openHarness, postTask, waitForEnd, type Harness } from '../support/harness.ts';
import { issuerCharges } from '../support/stages.ts';

/**
 * Memory end to end, through the gateway and every stage's workers (issue 11, Proof): a second task on
 * the same theme spends nothing on the records the tenant owns fresh and buys only the stale or new
 * ones; `maxAge: 0` buys afresh; the task view says what was reused, where from, and what it saved.
 */
describe('memory through the whole pipeline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
  });
  afterAll(async () => h?.close());

  const body = (extra: Record<string, unknown> = {}) => ({ theme: 'solar', budget: '100.00', voiceId: 'demo-voice', maxCompanies: 3, ...extra });

  it('a second task reuses the fresh records at no cost and buys the stale one; maxAge 0 buys all again', async () => {
    const firstId = await postTask(h, body());
    const first = await waitForEnd(h, firstId, 60_000);
    expect(first.status).toBe('completed');
    const bought = first.companies.filter((c: any) => c.status === 'bought');
    expect(bought).toHaveLength(3);

    // One of the three was bought longer ago than the freshness window (MEMORY_MAX_AGE).
    const stale = bought[2];
    await sql`update memory_records set bought_at = now() - interval '8 days' where company_id = ${stale.id}`.execute(h.database.db);

    const secondId = await postTask(h, body());
    const second = await waitForEnd(h, secondId, 60_000);
    expect(second.status).toBe('completed');
    const byId = new Map(second.companies.map((c: any) => [c.id, c]));
    for (const fresh of bought.slice(0, 2)) {
      expect(byId.get(fresh.id)).toMatchObject({ status: 'reused', reusedFrom: { taskId: firstId } });
    }
    expect(byId.get(stale.id)).toMatchObject({ status: 'bought' });
    // Money: only the stale record was paid for, once, at its price.
    const charges = await issuerCharges(h, secondId);
    expect(charges.map((c) => c.description)).toEqual([`/company/detail?id=${stale.id}`]);
    expect(second.budget.spent).toBe(stale.price);
    const saved = formatMoney(bought.slice(0, 2).reduce((s: number, c: any) => s + parseMoney(c.price), 0));
    expect(second.memory).toEqual({ reused: 2, saved, currency: 'CNY' });
    const report = await (await h.api(`/v1/tasks/${secondId}/report`)).text();
    expect(report).toContain(`Reused from the tenant's memory at no charge: 2 record(s), saving ${saved} CNY`);

    const afreshId = await postTask(h, body({ maxAge: 0 }));
    const afresh = await waitForEnd(h, afreshId, 60_000);
    expect(afresh.maxAge).toBe(0);
    expect(afresh.companies.filter((c: any) => c.status === 'bought')).toHaveLength(3);
    expect(await issuerCharges(h, afreshId)).toHaveLength(3);
    expect(afresh.memory).toEqual({ reused: 0, saved: '0.00', currency: 'CNY' });
  });
});
