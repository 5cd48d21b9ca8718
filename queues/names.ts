/** The queues, by their plain names: the five of DESIGN.md §2, and `webhook` (issue 13: announcing a task's end). */
export const QUEUE_NAMES = ['search', 'authorize', 'detail', 'report', 'dashboard', 'webhook'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** True when a string names one of the queues. */
export function isQueueName(s: string): s is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(s);
}
