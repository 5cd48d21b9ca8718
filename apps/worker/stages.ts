import { QUEUE_NAMES, isQueueName, type QueueName } from '../../queues/names.ts';

/** `search detail` → those stages; `all` or nothing → every stage. Unknown names are an error. */
export function parseStages(args: string[]): QueueName[] {
  const words = args.flatMap((a) => a.split(',')).map((s) => s.trim()).filter(Boolean);
  if (words.length === 0 || words.includes('all')) return [...QUEUE_NAMES];
  const unknown = words.filter((w) => !isQueueName(w));
  if (unknown.length) throw new Error(`unknown stage(s): ${unknown.join(', ')}; choose from ${QUEUE_NAMES.join(', ')} or all`);
  return [...new Set(words as QueueName[])];
}
