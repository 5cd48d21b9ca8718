import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney } from '../../shared/money.ts';
import { utcDay } from '../../shared/tenants/policy.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { FIRST_ATTEMPT, issuerCharges, readyForDetail } from '../../test/support/stages.ts';
import { processDetail } from './processor.ts';

const OPERATOR = { actor: 'operator', role: 'operator', address: null, userAgent: null };

/**
 * The detail stage holds the tenant's daily spending cap (issue 8): each purchase reserves against
 * the tenant's effective policy — its own cap, else TENANT_DAILY_SPEND — and a price the day cannot
 * take is skipped as spending_limit_exceeded, with nothing reserved and nothing paid.
 */
describe("detail: a purchase the tenant's day cannot take is skipped, unpaid", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { API_KEYS: 'capped:capped-key,defaulted:defaulted-key' } });
  });
  afterAll(async () => h?.close());

  const spendToday = async (tenant: string, taskId: string) => h.repos.policies.spendOn(tenant, utcDay((await h.repos.tasks.get(taskId))!.created_at));

  it("the tenant's own cap: the first record fits, the next does not and is skipped before anything is reserved or paid", async () => {
    const { taskId, companyIds } = await readyForDetail(h, { headers: { authorization: 'Bearer capped-key' } });
    const [a, b] = [(await h.repos.companies.get(taskId, companyIds[0]!))!, (await h.repos.companies.get(taskId, companyIds[1]!))!];
    // The day can take the first price and one fen less than the second.
    await h.repos.policies.update('capped', { dailySpend: a.price + b.price - 1 }, OPERATOR);

    expect(await processDetail({ taskId, companyId: a.company_id }, h.deps, FIRST_ATTEMPT)).toEqual({ outcome: 'bought', companyId: a.company_id });
    expect(await processDetail({ taskId, companyId: b.company_id }, h.deps, FIRST_ATTEMPT)).toEqual({ outcome: 'skipped', companyId: b.company_id });

    const skipped = (await h.repos.companies.get(taskId, b.company_id))!;
    expect(skipped.status).toBe('skipped');
    expect(skipped.error_code).toBe('spending_limit_exceeded');
    expect(skipped.error_message).toContain(formatMoney(b.price - 1));
    expect(await h.repos.payments.forTask(taskId)).toHaveLength(1);
    expect((await issuerCharges(h, taskId)).map((c) => c.amount)).toEqual([a.price]);
    expect(await spendToday('capped', taskId)).toBe(a.price);
    expect((await h.repos.tasks.get(taskId))!).toMatchObject({ reserved: 0, captured: a.price });
  });

  it('no cap of its own: the configured default (TENANT_DAILY_SPEND) holds', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { headers: { authorization: 'Bearer defaulted-key' } });
    const a = (await h.repos.companies.get(taskId, companyIds[0]!))!;
    const deps = { ...h.deps, policyDefaults: { ...h.deps.policyDefaults, dailySpend: a.price - 1 } };
    expect(await processDetail({ taskId, companyId: a.company_id }, deps, FIRST_ATTEMPT)).toEqual({ outcome: 'skipped', companyId: a.company_id });
    expect((await h.repos.companies.get(taskId, a.company_id))!.error_code).toBe('spending_limit_exceeded');
    expect(await issuerCharges(h, taskId)).toEqual([]);
    // With the default raised, the same record is bought.
    const other = companyIds[1]!;
    const raised = { ...h.deps, policyDefaults: { ...h.deps.policyDefaults, dailySpend: 1_000_000 } };
    expect(await processDetail({ taskId, companyId: other }, raised, FIRST_ATTEMPT)).toEqual({ outcome: 'bought', companyId: other });
  });
});
