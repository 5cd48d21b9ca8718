import { PermanentError } from '../../shared/errors.ts';
import { formatMoney } from '../../shared/money.ts';
import type { Processor } from '../deps.ts';
import type { Payload } from '../payloads.ts';
import { standDown } from '../handoff.ts';

/** The merchant the token is bound to: only the marketplace can charge it. */
export const MARKETPLACE_MERCHANT = 'marketplace';

/**
 * Authorize: the user's voice-ID check (the tenant's own voice, for this task and budget), then a
 * budget-limited token from the issuer (amount = the task's budget, bound to the marketplace,
 * reference = task id), then the detail fan-out.
 */
export const processAuthorize: Processor<Payload<'authorize'>> = async ({ taskId }, deps, ctx) => {
  let task = await deps.repos.tasks.enterStage(taskId, 'authorize');
  if (!task) return standDown(deps, taskId);
  const amount = formatMoney(task.budget_limit);
  if (!task.token_id) {
    // Consent is this tenant's voice, for this task and this amount; the client refuses a verdict for anything else.
    const verdict = await deps.providers.voiceId.verify({ voiceId: task.voice_id, subject: task.tenant, reference: taskId, amount }, ctx.signal);
    await deps.repos.tasks.addEvent(taskId, 'voice_checked', { verified: verdict.verified, score: verdict.score ?? null, ...(verdict.mismatch ? { mismatch: verdict.mismatch } : {}) });
    if (verdict.mismatch) {
      throw new PermanentError('voice_not_verified', `voice ID "${task.voice_id}" was not verified: the voice service answered for another ${verdict.mismatch.join(', ')} than this task's`);
    }
    if (!verdict.verified) throw new PermanentError('voice_not_verified', `voice ID "${task.voice_id}" was not verified`);
    // The key makes a retry after a crash find the same token instead of opening a second one.
    const token = await deps.providers.issuer.createToken(
      {
        amount,
        merchantId: MARKETPLACE_MERCHANT,
        reference: taskId,
        voiceVerification: { voiceId: task.voice_id, subject: task.tenant, verified: true, score: verdict.score },
        // It outlives any reasonable task; the report stage closes it as soon as the task ends.
        expiresInSeconds: deps.tokenTtlSeconds,
      },
      `arp-token-${taskId}`,
      ctx.signal,
    );
    // The story tells the token's limit and expiry, never its id nor a hint of it (finance has the hint).
    await deps.repos.tasks.setToken(taskId, token.id, { limit: formatMoney(token.limit), expiresAt: token.expiresAt });
  }
  const chosen = await deps.repos.companies.chosen(taskId);
  task = await deps.repos.tasks.enterStage(taskId, 'detail');
  if (!task) return standDown(deps, taskId);
  await deps.producer.detailFlow(
    taskId,
    chosen.map((c) => c.company_id),
  );
  // The job's return value is shown in Bull Board: never the token id.
  return { companies: chosen.length };
};
