import type { Config } from '../config.ts';
import { formatMoney, type Fen } from '../money.ts';

/**
 * A tenant's spending policy (issue 8): how many tasks it may submit per minute, how many may be open
 * (queued + running) at once, the largest budget of one task, and what the tasks it creates on one
 * UTC day may spend together. Money in fen; null means no limit.
 */
export interface SpendingPolicy {
  tasksPerMinute: number;
  openTasks: number;
  maxBudget: Fen | null;
  dailySpend: Fen | null;
}

/** What a tenant overrides; a field left out (or null) takes the configured default. */
export type PolicyOverrides = { [K in keyof SpendingPolicy]?: SpendingPolicy[K] | null };

export const POLICY_FIELDS = ['tasksPerMinute', 'openTasks', 'maxBudget', 'dailySpend'] as const satisfies ReadonlyArray<keyof SpendingPolicy>;

/** The defaults every tenant has, from TENANT_TASKS_PER_MINUTE, TENANT_OPEN_TASKS, TENANT_MAX_BUDGET, TENANT_DAILY_SPEND. */
export function policyDefaults(config: Pick<Config, 'TENANT_TASKS_PER_MINUTE' | 'TENANT_OPEN_TASKS' | 'TENANT_MAX_BUDGET' | 'TENANT_DAILY_SPEND'>): SpendingPolicy {
  return {
    tasksPerMinute: config.TENANT_TASKS_PER_MINUTE,
    openTasks: config.TENANT_OPEN_TASKS,
    maxBudget: config.TENANT_MAX_BUDGET ?? null,
    dailySpend: config.TENANT_DAILY_SPEND ?? null,
  };
}

/** The one rule: a tenant's own value where it set one, else the default. */
export function effectivePolicy(defaults: SpendingPolicy, overrides: PolicyOverrides): SpendingPolicy {
  return {
    tasksPerMinute: overrides.tasksPerMinute ?? defaults.tasksPerMinute,
    openTasks: overrides.openTasks ?? defaults.openTasks,
    maxBudget: overrides.maxBudget ?? defaults.maxBudget,
    dailySpend: overrides.dailySpend ?? defaults.dailySpend,
  };
}

/** The UTC day of an instant, as 'YYYY-MM-DD': the day a task's spend counts against. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Policy values on the wire and in the audit log: money as decimal strings, counts as numbers, null kept. */
export function policyOnWire(p: PolicyOverrides): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  for (const field of POLICY_FIELDS) {
    if (!(field in p)) continue;
    const value = p[field];
    out[field] = value === null || value === undefined ? null : MONEY_FIELDS.has(field) ? formatMoney(value) : value;
  }
  return out;
}

/** The policy fields that are amounts of money (fen inside, decimal strings outside). */
export const MONEY_FIELDS: ReadonlySet<keyof SpendingPolicy> = new Set(['maxBudget', 'dailySpend']);
