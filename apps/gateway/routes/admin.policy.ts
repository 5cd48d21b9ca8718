import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { CURRENCY, formatMoney, MAX_BUDGET_FEN } from '../../../shared/money.ts';
import { effectivePolicy, policyOnWire, utcDay, type PolicyOverrides, type SpendingPolicy } from '../../../shared/tenants/policy.ts';
import type { AdminEnv } from '../admin-auth.ts';
import { tenantParam } from '../admin-params.ts';
import type { ClientAddresses } from '../client-address.ts';
import type { GatewayDeps } from '../deps.ts';
import { operatorContext, operatorOnly } from '../operator.ts';
import { positiveAmount, readJson, validate } from '../validate.ts';

/** Largest daily cap that can be set: 10,000,000,000.00 CNY (far above any real day, well inside exact integers). */
const MAX_DAILY_SPEND_FEN = 1_000_000_000_000;
const count = z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000');

/**
 * The body of PUT /admin/tenants/:tenant/policy: each field a value (the tenant's own), null (back to
 * the default) or left out (unchanged); money as decimal strings (or numbers with at most two decimals).
 */
export const policyBody = z
  .strictObject({
    tasksPerMinute: count.nullable().optional(),
    openTasks: count.nullable().optional(),
    maxBudget: positiveAmount(MAX_BUDGET_FEN).nullable().optional(),
    dailySpend: positiveAmount(MAX_DAILY_SPEND_FEN).nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'name at least one of tasksPerMinute, openTasks, maxBudget, dailySpend');

/** A tenant's policy as the admin API shows it: what applies, what the tenant set itself, and today's spend against the cap. */
async function policyView(deps: GatewayDeps, defaults: SpendingPolicy, tenant: string) {
  const stored = await deps.repos.policies.overrides(tenant);
  const overrides: PolicyOverrides = stored?.overrides ?? {};
  const applies = effectivePolicy(defaults, overrides);
  const day = utcDay(new Date());
  const spend = await deps.repos.policies.spendOn(tenant, day);
  return {
    tenant,
    ...policyOnWire(applies),
    currency: CURRENCY,
    overrides: policyOnWire(overrides),
    defaults: policyOnWire(defaults),
    today: { day, spend: formatMoney(spend), remaining: applies.dailySpend === null ? null : formatMoney(Math.max(0, applies.dailySpend - spend)) },
    ...(stored ? { updatedAt: stored.updatedAt.toISOString(), updatedBy: stored.updatedBy } : {}),
  };
}

/**
 * Tenants' spending policies (issue 8), mounted at `/admin`, behind the admin login `auth`:
 * GET /tenants/:tenant/policy → the values that apply (each the tenant's own or the default);
 * PUT /tenants/:tenant/policy → changes the tenant's own values (operator login; audited in the same
 * transaction) and answers as GET does. A change applies to the next submission and reservation.
 */
export function adminPolicyRoutes(deps: GatewayDeps, auth: MiddlewareHandler<AdminEnv>, addresses: ClientAddresses, defaults: SpendingPolicy) {
  return new Hono<AdminEnv>({ strict: false })
    .get('/tenants/:tenant/policy', auth, async (c) => {
      const tenant = tenantParam(c.req.param('tenant'));
      return c.json(await policyView(deps, defaults, tenant));
    })
    .put('/tenants/:tenant/policy', auth, operatorOnly, async (c) => {
      const tenant = tenantParam(c.req.param('tenant'));
      const changes = validate(policyBody, await readJson(c), 'policy');
      await deps.repos.policies.update(tenant, changes, operatorContext(c, addresses));
      return c.json(await policyView(deps, defaults, tenant));
    });
}
