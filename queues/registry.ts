import type { z } from 'zod';
import { PermanentError, TransientError } from '../shared/errors.ts';
import { processAuthorize } from './authorize/processor.ts';
import { processDashboard } from './dashboard/processor.ts';
import type { Processor, StageDeps } from './deps.ts';
import { processDetail } from './detail/processor.ts';
import { QUEUE_NAMES, type QueueName } from './names.ts';
import { PAYLOADS, type Payload } from './payloads.ts';
import { processReport } from './report/processor.ts';
import { processSearch } from './search/processor.ts';
import { giveUpWebhook, processWebhook } from './webhook/processor.ts';
import { failTask } from './settle.ts';

/** One stage: its payload schema, its processor, and what to do when a job of it fails for good. */
export interface StageEntry<Q extends QueueName> {
  schema: z.ZodType<Payload<Q>>;
  process: Processor<Payload<Q>>;
  /** Runs once, when the job will not be retried: permanent error or last attempt spent. */
  onFinalFailure?: (data: Payload<Q>, deps: StageDeps, err: Error) => Promise<void>;
  concurrency: 'worker' | 'detail';
}

/** A failure's code for task.error: the provider's or ours. */
export function failureCode(err: Error): string {
  if (err instanceof PermanentError) return err.code;
  if (err instanceof TransientError) return 'provider_unavailable';
  return 'stage_failed';
}

const failWholeTask = async ({ taskId }: { taskId: string }, deps: StageDeps, err: Error) => failTask(deps, taskId, failureCode(err), err.message);

/** The registry: every queue has exactly one entry (checked at start by assertRegistryComplete). */
export const STAGES: { [Q in QueueName]: StageEntry<Q> } = {
  search: { schema: PAYLOADS.search, process: processSearch, onFinalFailure: failWholeTask, concurrency: 'worker' },
  authorize: { schema: PAYLOADS.authorize, process: processAuthorize, onFinalFailure: failWholeTask, concurrency: 'worker' },
  detail: {
    schema: PAYLOADS.detail,
    process: processDetail,
    // The money of a company left half-way is settled by the report stage against the issuer's books.
    onFinalFailure: async ({ taskId, companyId }, deps, err) => {
      await deps.repos.companies.settle(taskId, companyId, 'failed', { error: { code: failureCode(err), message: err.message } });
    },
    concurrency: 'detail',
  },
  report: { schema: PAYLOADS.report, process: processReport, onFinalFailure: failWholeTask, concurrency: 'worker' },
  dashboard: { schema: PAYLOADS.dashboard, process: processDashboard, concurrency: 'worker' },
  webhook: { schema: PAYLOADS.webhook, process: processWebhook, onFinalFailure: giveUpWebhook, concurrency: 'worker' },
};

/** Refuses to start when a queue has no handler (or the registry names one that is not a queue). */
export function assertRegistryComplete(): void {
  const missing = QUEUE_NAMES.filter((q) => !STAGES[q]?.process);
  const extra = Object.keys(STAGES).filter((k) => !(QUEUE_NAMES as readonly string[]).includes(k));
  if (missing.length || extra.length) throw new Error(`stage registry is incomplete: missing ${missing.join(',') || '-'}, unknown ${extra.join(',') || '-'}`);
}
