/** The five queues, by their plain names (DESIGN.md §2). */
export const QUEUE_NAMES = ['search', 'authorize', 'detail', 'report', 'dashboard'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** True when a string names one of the queues. */
export function isQueueName(s: string): s is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(s);
}
