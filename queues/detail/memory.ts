import type { Recalled } from '../../shared/db/index.ts';
import type { ClaimedReserveResult, ReserveResult } from '../../shared/db/payments.ts';
import type { PurchaseCompany, PurchaseTask, PurchaseView } from '../../shared/db/purchase.ts';
import type { JobContext, StageDeps } from '../deps.ts';

type Outcome = { outcome: string; companyId: string };

/**
 * Memory first (issue 11): a record the tenant bought within the task's freshness window is used at no
 * cost — settled `reused`, linked to the purchase it came from, whatever became of that purchase's
 * receipt. Otherwise the task claims the purchase as it reserves the price (one statement,
 * PaymentRepository.claimAndReserve), so another task of the tenant buying the same company at the same
 * time waits for it instead of paying again: it looks again every `pollMs` until the holder's purchase has
 * ended — then reuses what was delivered, or buys on its own when nothing was (failed, refunded, skipped)
 * — or until `waitMs` (the provider time-out) has passed, then buys on its own. `maxAge: 0` buys afresh,
 * claiming the purchase when it is free so that others can wait for it.
 *
 * The price reserved is the one probed before the first look (the listing capped it: refuseOffer). Should
 * the marketplace change it while this task waited, its pay call refuses the old amount and nothing is
 * charged (the payment is released), so a wait never pays more than was listed.
 *
 * Returns the reservation's answer, or the outcome when memory served the company.
 */
export async function reserveOrReuse(
  deps: StageDeps,
  view: PurchaseView & { company: PurchaseCompany },
  purchase: { resource: string; key: string; price: number },
  ctx: JobContext,
): Promise<ReserveResult | Outcome> {
  const { task, company } = view;
  const deadline = Date.now() + deps.memory.waitMs;
  let regardless = view.maxAgeSeconds === 0;
  for (;;) {
    const answer: ClaimedReserveResult = await deps.repos.payments.claimAndReserve({
      taskId: task.id,
      companyId: company.company_id,
      tenant: task.tenant,
      resource: purchase.resource,
      amount: purchase.price,
      key: purchase.key,
      dailyCap: view.dailyCap,
      claim: { maxAgeSeconds: view.maxAgeSeconds, regardless },
    });
    if (answer.kind === 'remembered') return reuse(deps, task, company, purchase, answer.record);
    if (answer.kind !== 'held') return answer;
    if (Date.now() >= deadline || ctx.signal?.aborted) {
      deps.log.warn({ taskId: task.id, companyId: company.company_id, holder: answer.holder, waitedMs: deps.memory.waitMs }, 'another task of the tenant is still buying this company: buying it too');
      regardless = true;
      continue;
    }
    await pause(deps.memory.pollMs, ctx.signal);
  }
}

/**
 * Uses a remembered record: the company settled `reused` with it and the zero-cost payment linking its
 * purchase, in one statement (a retry finds both written or neither).
 */
export async function reuse(deps: StageDeps, task: PurchaseTask, company: PurchaseCompany, purchase: { resource: string; key: string }, known: Recalled): Promise<Outcome> {
  await deps.repos.payments.recordReuse({
    taskId: task.id,
    companyId: company.company_id,
    tenant: task.tenant,
    resource: purchase.resource,
    key: purchase.key,
    source: { id: known.paymentId, receipt_id: known.receiptId },
    record: known.fields,
  });
  return { outcome: 'reused', companyId: company.company_id };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
