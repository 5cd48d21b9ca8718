import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { isDependencyDown, PermanentError, TransientError } from '../shared/errors.ts';
import { childWith } from '../shared/log.ts';
import { observeJob, observeQueueWait, type JobOutcome } from '../shared/telemetry/metrics.ts';
import { annotate, ATTR, queueTelemetry } from '../shared/telemetry/tracing.ts';
import { queuePrefix, type RedisClient } from './connection.ts';
import type { StageDeps } from './deps.ts';
import type { QueueName } from './names.ts';
import { BACKOFF_TYPE, backoffDelay, DEPENDENCY_WAIT_MS, WEBHOOK_BACKOFF_TYPE, type Backoff } from './options.ts';
import { assertRegistryComplete, STAGES } from './registry.ts';

export interface WorkerSettings {
  /** QUEUE_PREFIX (on a cluster the queues live under it as a hash tag, see queuePrefix). */
  prefix: string;
  concurrency: { worker: number; detail: number };
  /** Lock of an active job; a crashed worker's jobs are recovered after it (default 30 s). */
  lockMs?: number;
  backoff?: Backoff;
  /** The webhook queue's retry backoff (WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_MAX_MS). */
  webhookBackoff?: Backoff;
  /** Stored on every job this process takes (Bull Board shows it): default `<host>:<pid>`. */
  name?: string;
}

/** Which process a job ran in, for operators: the host and the process id. */
export const workerName = () => `${hostname()}:${process.pid}`;

const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };
const DEFAULT_WEBHOOK_BACKOFF: Backoff = { baseMs: 10_000, maxMs: 3_600_000 };

/** A job may be orphaned by crashed workers this many times before BullMQ fails it as stalled. */
const MAX_STALLED = 5;

/** The jobs each worker is running right now, with the lock token each is held by. */
type Running = Map<string, { job: Job; token?: string }>;
const RUNNING = new WeakMap<Worker, Running>();

/**
 * The BullMQ wiring around a stage processor: payload check, retry rules, final-failure hook; and what
 * operators see of each attempt: its log lines carry the task id, stage and job id (a child logger in
 * the deps the stage gets: no AsyncLocalStorage, whose hooks would tax every promise); its span (BullMQ's
 * `process <queue>`, a child of the span that queued it) the task id, stage and company id; its
 * duration and queue wait are measured; one line at its end says how it went.
 */
function handlerFor<Q extends QueueName>(queue: Q, deps: StageDeps, running: Running) {
  const stage = STAGES[queue];
  return async (job: Job, token?: string, signal?: AbortSignal) => {
    const key = `${job.id}/${token}`;
    running.set(key, { job, token });
    const started = performance.now();
    const fields = jobFields(queue, job);
    annotate({ [ATTR.stage]: queue, [ATTR.attempt]: job.attemptsMade + 1, ...(fields.taskId ? { [ATTR.taskId]: fields.taskId } : {}), ...(fields.companyId ? { [ATTR.companyId]: fields.companyId } : {}), ...(typeof job.data?.ledgerEntryId === 'number' ? { [ATTR.ledgerEntryId]: job.data.ledgerEntryId } : {}) });
    // The job's own logger: every line its stage writes (through deps.log) says which task, stage and job.
    const log = childWith(deps.log, fields);
    let outcome: JobOutcome = 'failed';
    try {
      await noteQueueWait(queue, job);
      const result = await runStage(queue, stage, { ...deps, log }, job, token, signal);
      outcome = 'completed';
      return result;
    } catch (err) {
      outcome = err instanceof DelayedError ? 'waiting' : err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
      throw err;
    } finally {
      running.delete(key);
      const ms = performance.now() - started;
      observeJob(queue, outcome, ms / 1000);
      // Dashboard jobs count old ledger rows one by one: their lines are for debugging.
      (queue === 'dashboard' ? log.debug : log.info).call(log, { outcome, attempt: job.attemptsMade + 1, ms: Math.round(ms) }, `${queue} job ${outcome}`);
    }
  };
}

/** The log fields of a job: its stage and id, and the task (and company) it works for. */
function jobFields(queue: QueueName, job: Job): { stage: string; jobId?: string; taskId?: string; companyId?: string } {
  const data = (job.data ?? {}) as { taskId?: unknown; companyId?: unknown };
  return {
    stage: queue,
    ...(job.id ? { jobId: job.id } : {}),
    ...(typeof data.taskId === 'string' ? { taskId: data.taskId } : {}),
    ...(typeof data.companyId === 'string' ? { companyId: data.companyId } : {}),
  };
}

/**
 * How long a job waited for a worker, on its first delivery: from when it was added to when this
 * worker took it. Not measured for a retry (it waited its backoff on purpose), a job put back while a
 * dependency was down or recovered from a crashed worker, nor for a report with detail children (it
 * became ready when its last child ended, which BullMQ does not record).
 */
async function noteQueueWait(queue: QueueName, job: Job): Promise<void> {
  if (job.attemptsMade > 0 || job.stalledCounter > 0 || job.delay > 0 || !job.processedOn) return;
  if (queue === 'report') {
    const children = await job.getDependenciesCount().catch(() => undefined);
    if (!children || Object.values(children).some((n) => (n ?? 0) > 0)) return;
  }
  observeQueueWait(queue, (job.processedOn - job.timestamp) / 1000);
}

/** One attempt of a job: its payload checked, its failure classified (wait, retry, or fail for good). */
async function runStage<Q extends QueueName>(queue: Q, stage: (typeof STAGES)[Q], deps: StageDeps, job: Job, token?: string, signal?: AbortSignal) {
  const parsed = stage.schema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid ${queue} payload: ${parsed.error.message}`);
  const attempts = job.opts.attempts ?? 1;
  const ctx = { attempt: job.attemptsMade + 1, isFinalAttempt: job.attemptsMade + 1 >= attempts, signal };
  try {
    return await stage.process(parsed.data, deps, ctx);
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!(error instanceof TransientError) && !(error instanceof PermanentError) && isDependencyDown(error)) {
      // Our own database (or queue) is down, not the job's fault: wait for it without spending an attempt.
      deps.log.warn({ queue, jobId: job.id, err: error.message }, 'dependency down; the job waits');
      await job.moveToDelayed(Date.now() + DEPENDENCY_WAIT_MS, token);
      throw new DelayedError();
    }
    const permanent = error instanceof PermanentError;
    const log = permanent || ctx.isFinalAttempt ? deps.log.warn.bind(deps.log) : deps.log.info.bind(deps.log);
    log({ queue, jobId: job.id, attempt: ctx.attempt, attempts, err: error.message }, permanent ? 'job failed for good' : 'job attempt failed');
    if (permanent || ctx.isFinalAttempt) {
      await stage.onFinalFailure?.(parsed.data, deps, error);
      if (permanent) throw new UnrecoverableError(`${error.message}`);
    }
    throw error;
  }
}

/**
 * Starts a BullMQ worker for each named stage on a blocking connection. Retries wait per
 * backoffDelay: the provider's Retry-After when it sent one, else exponential with jitter.
 */
export function startWorkers(queues: QueueName[], deps: StageDeps, connection: RedisClient, settings: WorkerSettings): Worker[] {
  assertRegistryComplete();
  return queues.map((queue) => {
    const running: Running = new Map();
    const worker = new Worker(queue, handlerFor(queue, deps, running), {
      connection,
      prefix: queuePrefix(connection, settings.prefix),
      name: settings.name ?? workerName(),
      concurrency: settings.concurrency[STAGES[queue].concurrency],
      lockDuration: settings.lockMs ?? 30_000,
      stalledInterval: Math.max(500, Math.round((settings.lockMs ?? 30_000) / 2)),
      maxStalledCount: MAX_STALLED,
      // When tracing: each job is processed in a span that continues the trace of whoever queued it.
      ...(queueTelemetry() ? { telemetry: queueTelemetry() } : {}),
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
          type === BACKOFF_TYPE
            ? backoffDelay(attemptsMade, settings.backoff ?? DEFAULT_BACKOFF, err instanceof TransientError ? err.retryAfterMs : undefined)
            : type === WEBHOOK_BACKOFF_TYPE
              ? backoffDelay(attemptsMade, settings.webhookBackoff ?? DEFAULT_WEBHOOK_BACKOFF)
              : 1_000,
      },
    });
    worker.on('error', (err) => deps.log.error({ queue, err: err.message }, 'worker error'));
    RUNNING.set(worker, running);
    return worker;
  });
}

/**
 * Stops workers within a time limit: BullMQ's close waits for active jobs without one. Jobs still
 * running at the limit are handed back to their queue at once (moved to wait under their lock), so
 * another worker takes them now rather than after the lock expires; every step of every processor is
 * idempotent and resumable, so the brief overlap with the abandoned attempt is safe.
 */
export async function stopWorkers(workers: Worker[], timeoutMs: number): Promise<void> {
  const graceful = Promise.all(workers.map((w) => w.close()));
  const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  if ((await Promise.race([graceful, timedOut])) === 'timeout') {
    const handBack = workers.flatMap((w) => [...(RUNNING.get(w)?.values() ?? [])]).map(({ job, token }) => job.moveToWait(token).catch(() => undefined));
    await Promise.race([Promise.all(handBack), new Promise((r) => setTimeout(r, 500).unref())]);
    await Promise.race([Promise.all(workers.map((w) => w.close(true))), new Promise((r) => setTimeout(r, 500).unref())]);
  }
}
