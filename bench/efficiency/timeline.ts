/**
 * Where a task alone spends its submit → report time: the client's marks (POST sent, `ended` event and
 * report received) between the times BullMQ keeps in each job's hash (taken: `processedOn`, finished:
 * `finishedOn`). One machine, one clock (epoch ms). The steps follow one another, so they add up to the
 * whole; a hand-off is negative when the next stage took its job before the last one's finish was written.
 */
import type { Redis } from 'ioredis';
import { jobId } from '../../queues/options.ts';
import type { QueueName } from '../../queues/names.ts';
import type { CountedClient } from './postgres.ts';

/** One task run alone, as the client saw it (epoch ms). */
export interface AloneTask {
  taskId: string;
  sent: number;
  /** The 202 answered. */
  accepted: number;
  /** The `ended` event received on the task's event stream. */
  ended: number;
  /** The report received. */
  reported: number;
}

/** The steps, in order: each is the time from the end of the one before it. */
export const TIMELINE_STEPS = [
  'POST → search taken',
  'search',
  'hand-off → authorize taken',
  'authorize',
  'hand-off → first detail taken',
  'detail: first taken → last finished',
  'fan-in → report taken',
  'report',
  'report finished → client sees `ended`',
  'GET the report',
] as const;

export type TimelineStep = (typeof TIMELINE_STEPS)[number];

interface JobTimes {
  taken: number;
  finished: number;
}

async function jobTimes(redis: Redis, prefix: string, queue: QueueName, id: string): Promise<JobTimes> {
  const [taken, finished] = await redis.hmget(`${prefix}:${queue}:${id}`, 'processedOn', 'finishedOn');
  if (!taken || !finished) throw new Error(`timeline: job ${queue}/${id} has no times (removed already?)`);
  return { taken: Number(taken), finished: Number(finished) };
}

/** Each step's milliseconds for one task (its detail jobs: one per company it paid for). */
export async function timelineOf(task: AloneTask, input: { redis: Redis; prefix: string; db: CountedClient; schema: string }): Promise<Record<TimelineStep, number>> {
  const { redis, prefix, db, schema } = input;
  const companies = await db.query<{ company_id: string }>(`select company_id from "${schema}".payments where task_id = $1`, [task.taskId]);
  if (!companies.length) throw new Error(`timeline: task ${task.taskId} paid for nothing`);
  const search = await jobTimes(redis, prefix, 'search', jobId.search(task.taskId));
  const authorize = await jobTimes(redis, prefix, 'authorize', jobId.authorize(task.taskId));
  const details = await Promise.all(companies.map((c) => jobTimes(redis, prefix, 'detail', jobId.detail(task.taskId, c.company_id))));
  const report = await jobTimes(redis, prefix, 'report', jobId.report(task.taskId));
  const firstDetail = Math.min(...details.map((d) => d.taken));
  const lastDetail = Math.max(...details.map((d) => d.finished));
  return {
    'POST → search taken': search.taken - task.sent,
    search: search.finished - search.taken,
    'hand-off → authorize taken': authorize.taken - search.finished,
    authorize: authorize.finished - authorize.taken,
    'hand-off → first detail taken': firstDetail - authorize.finished,
    'detail: first taken → last finished': lastDetail - firstDetail,
    'fan-in → report taken': report.taken - lastDetail,
    report: report.finished - report.taken,
    'report finished → client sees `ended`': task.ended - report.finished,
    'GET the report': task.reported - task.ended,
  };
}
