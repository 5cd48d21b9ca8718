import { Redis, type RedisOptions } from 'ioredis';

/** Whether a Redis at `url` answers PING with these options (TLS, say), trying once. */
export async function redisAnswers(url: string, opts: RedisOptions = {}, connectTimeoutMs = 1_000): Promise<boolean> {
  const r = new Redis(url, { ...opts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: connectTimeoutMs });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
