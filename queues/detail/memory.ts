import type { Company, Recalled, Task } from '../../shared/db/index.ts';
import { maxAgeOf } from '../../shared/memory/freshness.ts';
import type { JobContext, StageDeps } from '../deps.ts';

type Outcome = { outcome: string; companyId: string };

/**
 * Memory first (issue 11): a record the tenant bought within the task's freshness window is used at no
 * cost — settled `reused`, linked to the purchase it came from, whatever became of that purchase's
 * receipt. Otherwise the task claims the purchase, so another task of the tenant buying the same
 * company at the same time waits for it instead of paying again: it looks in memory until the holder's
 * purchase has ended — then reuses what was delivered, or buys on its own when nothing was (failed,
 * refunded, skipped) — or until `waitMs` (the provider time-out) has passed, then buys on its own.
 * Returns the outcome when memory served the company; undefined when the task is to buy it.
 * `maxAge: 0` buys afresh, claiming the purchase when it is free so that others can wait for it.
 */
export async function fromMemory(deps: StageDeps, task: Task, company: Company, resource: string, key: string, ctx: JobContext): Promise<Outcome | undefined> {
  const maxAge = maxAgeOf(task, deps.memory.maxAgeSeconds);
  const memory = deps.repos.memory;
  if (maxAge === 0) {
    await memory.claim(task.tenant, company.company_id, task.id);
    return undefined;
  }
  const deadline = Date.now() + deps.memory.waitMs;
  let claimed = false;
  for (;;) {
    const known = await memory.fresh(task.tenant, company.company_id, maxAge);
    if (known) return reuse(deps, task, company, resource, key, known);
    // Ours, and memory looked at once more after the claim (the holder before us may have delivered just then).
    if (claimed) return undefined;
    const claim = await memory.claim(task.tenant, company.company_id, task.id);
    if (claim.ours) {
      claimed = true;
      continue;
    }
    if (Date.now() >= deadline || ctx.signal?.aborted) {
      deps.log.warn({ taskId: task.id, companyId: company.company_id, holder: claim.holder, waitedMs: deps.memory.waitMs }, 'another task of the tenant is still buying this company: buying it too');
      return undefined;
    }
    await pause(deps.memory.pollMs, ctx.signal);
  }
}

/** Uses a remembered record: the company settled `reused` with it, then the zero-cost payment linking its purchase. */
async function reuse(deps: StageDeps, task: Task, company: Company, resource: string, key: string, known: Recalled): Promise<Outcome> {
  // The record first: once the company is settled, a retry stops early; the payment row after it only
  // links the record to the purchase it came from.
  await deps.repos.companies.settle(task.id, company.company_id, 'reused', { detail: known.fields, receiptId: known.receiptId });
  await deps.repos.payments.recordReuse({
    taskId: task.id,
    companyId: company.company_id,
    tenant: task.tenant,
    resource,
    key,
    source: { id: known.paymentId, receipt_id: known.receiptId },
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
