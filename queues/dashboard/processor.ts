import type { Processor } from '../deps.ts';
import type { Payload } from '../payloads.ts';

/** Dashboard: counts one ledger movement into the budget-use aggregates, once however often delivered. */
export const processDashboard: Processor<Payload<'dashboard'>> = async ({ ledgerEntryId }, deps) => {
  const applied = await deps.repos.dashboard.apply(ledgerEntryId);
  return { ledgerEntryId, applied };
};
