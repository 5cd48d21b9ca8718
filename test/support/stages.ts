import { startMocks, type FaultConfig } from '../../mocks/index.ts';
import { processAuthorize } from '../../queues/authorize/processor.ts';
import type { JobContext, StageDeps } from '../../queues/deps.ts';
import { processSearch } from '../../queues/search/processor.ts';
import { paymentKey } from '../../shared/db/index.ts';
import { budgetView, formatMoney } from '../../shared/money.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { ISSUER_KEY, type Harness } from './harness.ts';

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

/** A task's budget as the API shows it (decimal strings). */
export async function budgetOf(h: Harness, taskId: string) {
  const t = (await h.repos.tasks.get(taskId))!;
  return budgetView({ limit: t.budget_limit, reserved: t.reserved, captured: t.captured, refunded: t.refunded });
}

/** Every charge the issuer holds for a task (its own books, not ours). */
export async function issuerCharges(h: Harness, taskId: string) {
  const tokens = await h.deps.providers.issuer.tokensFor(taskId);
  return tokens.flatMap((t) => t.charges);
}

/**
 * A purchase the process died in the middle of: the company's price reserved, paid at the marketplace
 * (a charge at the issuer under our key) and the capture booked, but no receipt stored and nothing
 * delivered. `providers` is the marketplace to pay (a test's lying one, say); the harness's by default.
 */
export async function capturedByHand(h: Harness, taskId: string, companyId: string, providers: StageDeps['providers'] = h.deps.providers) {
  const company = (await h.repos.companies.get(taskId, companyId))!;
  const resource = providers.marketplace.resourceOf(companyId);
  const key = paymentKey(taskId, resource);
  const reserved = await h.repos.payments.reserve({ taskId, companyId, tenant: 'acme', resource, amount: company.price, key });
  if (reserved.kind !== 'reserved') throw new Error(`expected a reservation, got ${reserved.kind}`);
  const tokenId = h.repos.tasks.tokenOf((await h.repos.tasks.get(taskId))!)!;
  const receipt = await providers.marketplace.pay({ tokenId, amount: formatMoney(company.price), resource, idempotencyKey: key });
  await h.repos.payments.capture(reserved.payment.id, receipt.chargeId);
  return { company, payment: reserved.payment, receipt };
}

/**
 * Stage deps whose marketplace is a second stand-in with its own faults, in front of the harness's
 * issuer (same receipt key): one task can meet a healthy marketplace on one attempt and a failing
 * one on the next.
 */
export async function marketplaceWith(h: Harness, faults: FaultConfig): Promise<{ deps: StageDeps; close: () => Promise<void> }> {
  const market = await startMocks({ only: ['marketplace'], issuerUrl: h.mocks.urls.tokenIssuer, issuerApiKey: ISSUER_KEY, receiptSecret: 'test-receipt-secret', faults });
  const deps: StageDeps = {
    ...h.deps,
    providers: createProviders({
      marketplaceUrl: market.urls.marketplace!,
      tokenIssuerUrl: h.mocks.urls.tokenIssuer!,
      voiceIdUrl: h.mocks.urls.voiceid!,
      issuerApiKey: ISSUER_KEY,
      timeoutMs: 3_000,
    }),
  };
  const close = async () => {
    await deps.providers.close();
    await market.close();
  };
  return { deps, close };
}
