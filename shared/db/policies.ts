import { sql, type Kysely } from 'kysely';
import { effectivePolicy, POLICY_FIELDS, policyOnWire, type PolicyOverrides, type SpendingPolicy } from '../tenants/policy.ts';
import { recordAudit, type OperatorContext } from './operator-audit.ts';
import type { Database, TenantPolicyRow } from './schema.ts';

/** A tenant's overrides as stored, with who changed them last and when (none: it runs on the defaults). */
export interface StoredOverrides {
  overrides: PolicyOverrides;
  updatedAt: Date;
  updatedBy: string;
}

const COLUMNS = { tasksPerMinute: 'tasks_per_minute', openTasks: 'open_tasks', maxBudget: 'max_budget', dailySpend: 'daily_spend' } as const;

function overridesOf(row: TenantPolicyRow): PolicyOverrides {
  const out: PolicyOverrides = {};
  for (const field of POLICY_FIELDS) {
    const value = row[COLUMNS[field]];
    if (value !== null) out[field] = Number(value);
  }
  return out;
}

/** Tenants' spending policies (issue 8): per-tenant overrides of the configured defaults, and each day's spend. */
export class PolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** What a tenant overrides, or undefined when it runs on the defaults alone. */
  async overrides(tenant: string): Promise<StoredOverrides | undefined> {
    const row = await this.db.selectFrom('tenant_policies').selectAll().where('tenant', '=', tenant).executeTakeFirst();
    return row && { overrides: overridesOf(row), updatedAt: row.updated_at, updatedBy: row.updated_by };
  }

  /** The policy a tenant runs under now: its overrides over `defaults`. */
  async effective(tenant: string, defaults: SpendingPolicy): Promise<SpendingPolicy> {
    return effectivePolicy(defaults, (await this.overrides(tenant))?.overrides ?? {});
  }

  /**
   * Changes a tenant's overrides: a field given a value sets it, null takes it back to the default, a
   * field left out stays. Recorded in the operators' audit log with what it was and what it became, in
   * the same transaction. Returns the overrides after the change.
   */
  async update(tenant: string, changes: PolicyOverrides, who: OperatorContext): Promise<PolicyOverrides> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('tenant_policies').selectAll().where('tenant', '=', tenant).forUpdate().executeTakeFirst();
      const before = row ? overridesOf(row) : {};
      const after: PolicyOverrides = { ...before };
      for (const field of POLICY_FIELDS) {
        if (!(field in changes)) continue;
        const value = changes[field];
        if (value === null || value === undefined) delete after[field];
        else after[field] = value;
      }
      const values = {
        tasks_per_minute: after.tasksPerMinute ?? null,
        open_tasks: after.openTasks ?? null,
        max_budget: after.maxBudget ?? null,
        daily_spend: after.dailySpend ?? null,
        updated_by: who.actor,
      };
      await trx
        .insertInto('tenant_policies')
        .values({ tenant, ...values })
        .onConflict((oc) => oc.column('tenant').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
        .execute();
      await recordAudit(trx, who, { action: 'policy.updated', tenant, target: tenant, details: { before: policyOnWire(before), after: policyOnWire(after), changes: policyOnWire(changes) } });
      return after;
    });
  }

  /** What the tasks a tenant created on a UTC day ('YYYY-MM-DD') have spent and hold: reserved + captured − refunded, in fen. */
  async spendOn(tenant: string, day: string): Promise<number> {
    const row = await this.db.selectFrom('tenant_spend_daily').select('spend').where('tenant', '=', tenant).where('day', '=', day).executeTakeFirst();
    return Number(row?.spend ?? 0);
  }
}
