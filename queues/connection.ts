import { Redis, type RedisOptions } from 'ioredis';
import type { ClientTls } from '../shared/tls-files.ts';

/**
 * Workers block on Redis and must keep waiting through an outage (maxRetriesPerRequest: null);
 * producers (the gateway) should fail fast so a request gets an answer.
 */
export function redisConnection(url: string, role: 'worker' | 'producer', tls?: ClientTls): Redis {
  const opts: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, connectTimeout: 5_000, enableOfflineQueue: true };
  // rediss:// turns TLS on by itself; the files add a private CA and a client certificate.
  const redis = new Redis(url, tls ? { ...opts, tls } : opts);
  // Errors are retried by ioredis; without a listener each one would be an unhandled 'error' event.
  redis.on('error', () => {});
  return redis;
}

/**
 * Removes every key of one BullMQ prefix (a test's or a benchmark's queues, when it is done); other
 * prefixes on the same Redis are untouched.
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
