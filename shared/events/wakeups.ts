import type { Cluster, Redis } from 'ioredis';
import type { Repositories } from '../db/index.ts';

/** The Redis channel that says a task's story grew (per system and task): the message is only a wake-up. */
export const taskEventChannel = (prefix: string, taskId: string) => `${prefix}:task-events:${taskId}`;

/** The pattern of every task's channel, and the task id a channel names. */
export const taskEventChannelPrefix = (prefix: string) => `${prefix}:task-events:`;

/**
 * Wires a process's repositories to Redis: after every committed write to a task's story, one PUBLISH on
 * the task's channel, so every gateway following that task reads the table again at once. Best effort: a
 * publish that fails (Redis down, a process killed between commit and publish) is caught up by the
 * gateways' own look at the table on every heartbeat (apps/gateway/event-streams.ts).
 */
export function publishEventWakeups(repos: Pick<Repositories, 'events'>, redis: Redis | Cluster, prefix: string): void {
  repos.events.onWritten((taskId) => {
    redis.publish(taskEventChannel(prefix, taskId), '1').catch(() => undefined);
  });
}
