import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deletePrefix, redisConnection } from './connection.ts';
import { EVENTS_STREAM_MAX_LEN, jobOptions } from './options.ts';
import { Producer } from './producer.ts';

/** What the queues keep in Redis, however busy: a short events stream and a bounded completed list. */
describe('the queues in Redis', () => {
  const redis = redisConnection(inject('redisUrl'), 'producer');
  const prefix = `t-producer-${randomBytes(4).toString('hex')}`;
  let producer: Producer;
  beforeAll(() => {
    producer = new Producer(redis, prefix);
  });
  afterAll(async () => {
    await producer.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('cap their events stream (nothing of ours reads it) near EVENTS_STREAM_MAX_LEN, not BullMQ’s 10 000', async () => {
    const queue = producer.queues.webhook;
    await queue.getVersion(); // resolves once the queue has written its meta
    expect(await redis.hget(`${prefix}:webhook:meta`, 'opts.maxLenEvents')).toBe(String(EVENTS_STREAM_MAX_LEN));
    // 600 jobs added: 600 `added` and `waiting` events written (the trim is approximate: whole stream nodes of 100).
    await queue.addBulk(Array.from({ length: 600 }, (_, i) => ({ name: 'webhook', data: { deliveryId: i + 1, taskId: 't' }, opts: jobOptions('webhook', `webhook-${i + 1}`) })));
    const length = await redis.xlen(`${prefix}:webhook:events`);
    expect(length).toBeGreaterThan(0);
    expect(length).toBeLessThanOrEqual(EVENTS_STREAM_MAX_LEN * 3);
  });
});
