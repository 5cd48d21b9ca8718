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
 *
 * On a Redis Cluster this stays classic PUBLISH/SUBSCRIBE (the key revocations too): a channel is no key,
 * the message is relayed over the cluster bus to every node, so a gateway subscribed on any node hears
 * it, and ioredis moves a Cluster's subscription to another node when its node fails (a wake-up missed
 * meanwhile costs one heartbeat). Sharded pub/sub (SPUBLISH) would spare the bus that relay, but needs a
 * subscription per shard that owns a channel's slot; one small message per story write is not worth it.
 */
export function publishEventWakeups(repos: Pick<Repositories, 'events'>, redis: Redis | Cluster, prefix: string): void {
  repos.events.onWritten((taskId) => {
    redis.publish(taskEventChannel(prefix, taskId), '1').catch(() => undefined);
  });
}
