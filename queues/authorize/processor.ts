import { PermanentError } from '../../shared/errors.ts';
import { formatMoney } from '../../shared/money.ts';
import type { Task } from '../../shared/db/index.ts';
import type { JobContext, Processor, StageDeps } from '../deps.ts';
import type { Payload } from '../payloads.ts';
import { standDown } from '../handoff.ts';

/** The merchant the token is bound to: only the marketplace can charge it. */
export const MARKETPLACE_MERCHANT = 'marketplace';

/**
 * Authorize: the user's voice-ID check (the tenant's own voice, for this task and budget), then a
 * budget-limited token from the issuer (amount = the task's budget, bound to the marketplace,
 * reference = task id), then the detail fan-out. The token, its story and the move into `detail` are
 * one statement; the jobs are queued after it committed.
 */
export const processAuthorize: Processor<Payload<'authorize'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'authorize');
  if (!task) return standDown(deps, taskId);
  if (!task.token_id) {
    const handed = await openToken(deps, task, ctx);
    if (handed?.entered) return fanOut(deps, taskId, handed.chosen);
    // Kept and told, but the task may not move on (a cancel asked for meanwhile, or it ended).
    if (handed) return standDown(deps, taskId);
  }
  // The token was stored before (a retry, or a run racing this one): the task moves on as it is.
  const chosen = await deps.repos.companies.chosen(taskId);
  if (!(await deps.repos.tasks.enterStage(taskId, 'detail'))) return standDown(deps, taskId);
  return fanOut(
    deps,
    taskId,
    chosen.map((c) => c.company_id),
  );
};

/** Checks the voice, opens the token and stores it with its story and the move into `detail` (TaskRepository.authorized). */
async function openToken(deps: StageDeps, task: Task, ctx: JobContext) {
  const amount = formatMoney(task.budget_limit);
  // Consent is this tenant's voice, for this task and this amount; the client refuses a verdict for anything else.
  const verdict = await deps.providers.voiceId.verify({ voiceId: task.voice_id, subject: task.tenant, reference: task.id, amount }, ctx.signal);
  const voice = { verified: verdict.verified, score: verdict.score ?? null, ...(verdict.mismatch ? { mismatch: verdict.mismatch } : {}) };
  if (verdict.mismatch || !verdict.verified) {
    await deps.repos.tasks.addEvent(task.id, 'voice_checked', voice);
    if (verdict.mismatch) {
      throw new PermanentError('voice_not_verified', `voice ID "${task.voice_id}" was not verified: the voice service answered for another ${verdict.mismatch.join(', ')} than this task's`);
    }
    throw new PermanentError('voice_not_verified', `voice ID "${task.voice_id}" was not verified`);
  }
  let token;
  try {
    // The key makes a retry after a crash find the same token instead of opening a second one.
    token = await deps.providers.issuer.createToken(
      {
        amount,
        merchantId: MARKETPLACE_MERCHANT,
        reference: task.id,
        voiceVerification: { voiceId: task.voice_id, subject: task.tenant, verified: true, score: verdict.score },
        // It outlives any reasonable task; the report stage closes it as soon as the task ends.
        expiresInSeconds: deps.tokenTtlSeconds,
      },
      `arp-token-${task.id}`,
      ctx.signal,
    );
  } catch (err) {
    // No token, and no retry to come: the story still says the voice was checked before the task fails.
    if (err instanceof PermanentError || ctx.isFinalAttempt) await deps.repos.tasks.addEvent(task.id, 'voice_checked', voice);
    throw err;
  }
  // The story tells the token's limit and expiry, never its id nor a hint of it (finance has the hint).
  return deps.repos.tasks.authorized(task.id, token.id, { voice, issued: { limit: formatMoney(token.limit), expiresAt: token.expiresAt } });
}

/** Queues a detail job per chosen company under the report. The return value is shown in Bull Board: never the token id. */
async function fanOut(deps: StageDeps, taskId: string, companyIds: string[]) {
  await deps.producer.detailFlow(taskId, companyIds);
  return { companies: companyIds.length };
}
