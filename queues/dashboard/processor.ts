import type { Processor } from '../deps.ts';
import type { Payload } from '../payloads.ts';

/**
 * Dashboard: counts one ledger movement into the budget-use aggregates, once however often delivered.
 * A movement counts itself when it is booked (migration 2026_11_29_050); this is the repair path for rows
 * booked before that, which the sweeper sends here.
 */
export const processDashboard: Processor<Payload<'dashboard'>> = async ({ ledgerEntryId }, deps) => {
  const applied = await deps.repos.dashboard.apply(ledgerEntryId);
  return { ledgerEntryId, applied };
};
