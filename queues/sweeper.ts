import type { Job } from 'bullmq';
import type { Task } from '../shared/db/index.ts';
import type { StageDeps } from './deps.ts';
import { jobId } from './options.ts';
import { enqueueCurrentStage } from './handoff.ts';
import { stopIfCancelled } from './settle.ts';

/** The job that carries a task on from its current stage. */
function currentJobId(task: Task): { queue: 'search' | 'authorize' | 'report'; id: string } {
  switch (task.stage) {
    case null:
    case 'search':
      return { queue: 'search', id: jobId.search(task.id) };
    case 'authorize':
      return { queue: 'authorize', id: jobId.authorize(task.id) };
    case 'detail':
    case 'report':
      return { queue: 'report', id: jobId.report(task.id) };
  }
}

/** Re-adds the work of one stalled task, going by Postgres (the source of truth), not by Redis. */
async function drive(deps: StageDeps, task: Task): Promise<string> {
  if (task.cancel_requested) return (await stopIfCancelled(deps, task.id)).stopped;
  const { queue, id } = currentJobId(task);
  const job: Job | undefined = await deps.producer.queues[queue].getJob(id);
  const state = job ? await job.getState() : 'missing';
  if (state === 'failed') {
    // Its final-failure handling did not finish (e.g. Postgres was down): run that attempt again.
    await job!.retry('failed');
    return 'retried';
  }
  if (state === 'completed') await job!.remove();
  if (state === 'missing' || state === 'completed' || state === 'unknown') {
    await enqueueCurrentStage(deps, task);
    return 're-enqueued';
  }
  return state;
}

/** How often one process applies the memory's retention (MEMORY_RETENTION): it is not urgent to the minute. */
export const RETENTION_EVERY_MS = 3_600_000;

/**
 * One sweep: unfinished tasks that have not moved for `staleMs` get their stage's job back (a Redis
 * without persistence may have lost it), ledger rows the dashboard never counted are sent again, and
 * receipts past their time are deleted — and, with `retention`, memory records older than
 * MEMORY_RETENTION and the records' copies on tasks that ended before it. Job ids are deterministic, so
 * a job that still exists is not doubled.
 */
export async function sweep(
  deps: StageDeps,
  staleMs: number,
  opts: { retention?: boolean } = {},
): Promise<{ tasks: number; dashboard: number; receiptsPurged: number; memoryPurged: number; copiesPurged: number }> {
  const stale = await deps.repos.tasks.findStale(staleMs);
  for (const task of stale) {
    try {
      const what = await drive(deps, task);
      await deps.repos.tasks.touch(task.id);
      deps.log.info({ taskId: task.id, stage: task.stage, what }, 'sweeper drove a stalled task');
    } catch (err) {
      deps.log.warn({ taskId: task.id, err: (err as Error).message }, 'sweeper could not drive a task');
    }
  }
  // Webhook deliveries whose job was lost (a crash between a task's end and its enqueue, Redis restarted).
  for (const d of await deps.repos.webhooks.stalePending(staleMs)) {
    await deps.producer.webhook(Number(d.id), d.task_id).catch((err: Error) => deps.log.warn({ deliveryId: d.id, err: err.message }, 'sweeper could not queue a webhook'));
  }
  const unapplied = await deps.repos.payments.unappliedLedger(Math.min(staleMs, 10_000));
  await deps.producer.dashboard(unapplied);
  const receiptsPurged = await deps.repos.payments.purgeExpiredReceipts();
  if (receiptsPurged) deps.log.info({ receiptsPurged }, 'sweeper deleted expired receipts');
  const purged = opts.retention === false ? { records: 0, taskCopies: 0 } : await deps.repos.memory.purgeOlderThan(deps.memory.retentionSeconds);
  if (purged.records || purged.taskCopies) deps.log.info({ memoryPurged: purged.records, copiesPurged: purged.taskCopies }, 'sweeper deleted records past the memory retention');
  return { tasks: stale.length, dashboard: unapplied.length, receiptsPurged, memoryPurged: purged.records, copiesPurged: purged.taskCopies };
}

/** Runs the sweeper every `intervalMs` (and once at start) until stopped. */
export function startSweeper(deps: StageDeps, intervalMs: number, staleMs: number): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let retainedAt = -Infinity;
  const tick = () => {
    if (stopped) return;
    const retention = Date.now() - retainedAt >= RETENTION_EVERY_MS;
    if (retention) retainedAt = Date.now();
    running = sweep(deps, staleMs, { retention }).catch((err) => deps.log.warn({ err: (err as Error).message }, 'sweep failed'));
  };
  const first = setTimeout(tick, Math.min(intervalMs, 2_000));
  const timer = setInterval(tick, intervalMs);
  first.unref();
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
