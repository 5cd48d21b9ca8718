import { PermanentError } from '../shared/errors.ts';
import { callCost, type Usage } from '../shared/llm/index.ts';
import type { JobContext, StageDeps } from './deps.ts';

/** Records every model call of a task with its cost (LLM_PRICES); not charged to the budget. */
export function usageRecorder(deps: StageDeps, taskId: string, purpose: string) {
  return async (u: Usage): Promise<void> => {
    const cost = callCost(deps.prices, u.model, u.inputTokens, u.outputTokens);
    await deps.repos.agent.recordCall(taskId, { purpose, model: u.model, inputTokens: u.inputTokens, outputTokens: u.outputTokens, costMicroUsd: cost ?? null });
  };
}

/** The model's answer, or our rules' when the model is not configured or failed for good. */
export type Consulted<T> = { value: T; by: 'model' | 'rules'; note?: string; error?: string };

/**
 * Asks the model (when one is configured) and falls back to our rules. The model is an aid, never a
 * condition: a failure that a retry may cure (time-out, 5xx, 429) is thrown for the queue to retry while
 * retries are left; a refusal for good (4xx, an answer that fails its schema), or the last attempt, gives
 * way to the rules, and the note says so.
 */
export async function consult<T>(
  deps: StageDeps,
  taskId: string,
  purpose: string,
  ctx: JobContext,
  ask: ((onUsage: (u: Usage) => Promise<void>) => Promise<T>) | undefined,
  offline: () => T,
): Promise<Consulted<T>> {
  if (!ask) return { value: offline(), by: 'rules' };
  try {
    return { value: await ask(usageRecorder(deps, taskId, purpose)), by: 'model' };
  } catch (err) {
    if (!(err instanceof PermanentError) && !ctx.isFinalAttempt) throw err;
    const message = (err as Error).message.slice(0, 200);
    deps.log.warn({ taskId, purpose, err: message }, 'language model failed; our rules decide instead');
    return { value: offline(), by: 'rules', note: `the model failed to ${purpose} (${message}): our rules did`, error: message };
  }
}
