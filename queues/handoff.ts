import type { Task } from '../shared/db/index.ts';
import type { StageDeps } from './deps.ts';
import { stopIfCancelled } from './settle.ts';

/**
 * Queues the work of the stage a task is in, going by Postgres. Job ids are deterministic, so work
 * that is still queued is not doubled. Used when a job finds its task already past its own stage
 * (its handoff may have been lost in a crash) and by the sweeper.
 */
export async function enqueueCurrentStage(deps: StageDeps, task: Task): Promise<void> {
  switch (task.stage) {
    case null:
    case 'search':
      return deps.producer.search(task.id);
    case 'authorize':
      return deps.producer.authorize(task.id);
    case 'detail': {
      const pending = (await deps.repos.companies.chosen(task.id)).filter((c) => c.status === 'found').map((c) => c.company_id);
      return deps.producer.detailFlow(task.id, pending);
    }
    case 'report':
      return deps.producer.report(task.id);
  }
}

/**
 * What a stage does when it may not enter its task: a cancel asked for is carried out; a task that
 * has moved past this stage (a late redelivery) gets its current stage's work queued, and nothing
 * else happens; an ended task is left alone.
 */
export async function standDown(deps: StageDeps, taskId: string): Promise<{ stopped: string }> {
  const task = await deps.repos.tasks.get(taskId);
  if (!task) return { stopped: 'missing' };
  if (task.cancel_requested || (task.status !== 'queued' && task.status !== 'running')) return stopIfCancelled(deps, taskId);
  await enqueueCurrentStage(deps, task);
  return { stopped: `past:${task.stage}` };
}
