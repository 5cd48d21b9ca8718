import type { JobsOptions } from 'bullmq';
import type { QueueName } from './names.ts';

/**
 * Every job option lives here: ids, attempts, backoff and retention.
 * Job ids are deterministic, so enqueuing the same work twice (a retry, the sweeper) adds it once.
 * BullMQ forbids ':' in custom ids and all-digit ids; every id here starts with its queue name.
 */
export const jobId = {
  search: (taskId: string) => `search-${taskId}`,
  authorize: (taskId: string) => `authorize-${taskId}`,
  detail: (taskId: string, companyId: string) => `detail-${taskId}-${companyId.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
  report: (taskId: string) => `report-${taskId}`,
  dashboard: (ledgerEntryId: number) => `dashboard-${ledgerEntryId}`,
  webhook: (deliveryId: number) => `webhook-${deliveryId}`,
};

/**
 * Attempts per queue: enough to ride out a provider or Postgres outage of a minute or so. A webhook is
 * tried for WEBHOOK_RETRY_WINDOW (a day) whatever the count: its processor gives up when that is over.
 */
const ATTEMPTS: Record<QueueName, number> = { search: 6, authorize: 6, detail: 8, report: 8, dashboard: 12, webhook: 1_000 };

/** The backoff type our workers implement (exponential with full jitter, or the server's Retry-After). */
export const BACKOFF_TYPE = 'jittered';

/** The webhook queue's backoff: the same shape on its own scale (WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_MAX_MS). */
export const WEBHOOK_BACKOFF_TYPE = 'webhook';

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before retry n (1-based): the provider's Retry-After when it gave one (up to 4× the cap),
 * else exponential growth with "equal jitter" (half fixed, half random), capped.
 */
export function backoffDelay(attemptsMade: number, b: Backoff, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), b.maxMs * 4);
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** While Postgres or Redis is down, a job waits this long and tries again, without spending an attempt. */
export const DEPENDENCY_WAIT_MS = 2_000;

/**
 * How many events each queue's Redis stream keeps (BullMQ's default is 10 000). Nothing of ours reads the
 * stream (Bull Board reads the job lists; the story of a task is in Postgres): a short tail is kept for
 * whoever attaches a QueueEvents while debugging, and the stream stays small however busy the queue.
 */
export const EVENTS_STREAM_MAX_LEN = 100;

/**
 * Options for a job of a queue. Completed jobs are kept a day for Bull Board, at most the last 1 000 per
 * queue (Redis memory stays flat at any rate); failed ones a week, whatever their number.
 */
export function jobOptions(queue: QueueName, id: string): JobsOptions {
  return {
    jobId: id,
    attempts: ATTEMPTS[queue],
    backoff: { type: queue === 'webhook' ? WEBHOOK_BACKOFF_TYPE : BACKOFF_TYPE },
    removeOnComplete: { age: 24 * 3600, count: 1_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
    // A detail child that fails for good must not leave its report parent waiting forever.
    ...(queue === 'detail' ? { ignoreDependencyOnFailure: true } : {}),
  };
}
