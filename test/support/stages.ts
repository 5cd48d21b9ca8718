import { processAuthorize } from '../../queues/authorize/processor.ts';
import type { JobContext } from '../../queues/deps.ts';
import { processSearch } from '../../queues/search/processor.ts';
import type { Harness } from './harness.ts';

/** A first attempt, with retries to come. */
export const FIRST_ATTEMPT: JobContext = { attempt: 1, isFinalAttempt: false };
/** The last attempt: a failure is compensated instead of retried. */
export const LAST_ATTEMPT: JobContext = { attempt: 8, isFinalAttempt: true };

/**
 * A task posted through the gateway that has searched and holds its token, ready for detail jobs
 * (which the test runs by hand). Returns the chosen companies in ranking order.
 */
export async function readyForDetail(
  h: Harness,
  opts: { budget?: string; theme?: string; maxCompanies?: number; maxAge?: number; headers?: Record<string, string> } = {},
): Promise<{ taskId: string; companyIds: string[] }> {
  const body = { theme: opts.theme ?? 'battery', budget: opts.budget ?? '60.00', voiceId: 'demo-voice', maxCompanies: opts.maxCompanies ?? 3, ...(opts.maxAge !== undefined ? { maxAge: opts.maxAge } : {}) };
  const res = await h.api('/v1/tasks', { body, headers: opts.headers });
  if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  await processSearch({ taskId: id }, h.deps, FIRST_ATTEMPT);
  await processAuthorize({ taskId: id }, h.deps, FIRST_ATTEMPT);
  const chosen = await h.repos.companies.chosen(id);
  return { taskId: id, companyIds: chosen.map((c) => c.company_id) };
}

/** Every charge the issuer holds for a task (its own books, not ours). */
export async function issuerCharges(h: Harness, taskId: string) {
  const tokens = await h.deps.providers.issuer.tokensFor(taskId);
  return tokens.flatMap((t) => t.charges);
}
