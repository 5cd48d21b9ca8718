import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ClusterNodes } from '../shared/config.ts';
import type { ClientTls } from '../shared/tls-files.ts';

/** A connection to the Redis every process shares: one server, or a Redis Cluster (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** Where that Redis is: a redis:// or rediss:// URL, or the seed nodes of a cluster. */
export type RedisTarget = string | ClusterNodes;

/**
 * Workers block on Redis and must keep waiting through an outage (maxRetriesPerRequest: null);
 * producers (the gateway) should fail fast so a request gets an answer. On a cluster the same options
 * apply to the connection of every node, and a failover (a replica promoted after its master died) is
 * waited out: commands to the dead master's slots are retried against the new one once the client has
 * learnt it (slot table refreshed on the error).
 */
export function redisConnection(url: string, role: 'worker' | 'producer', tls?: ClientTls): Redis;
export function redisConnection(target: RedisTarget, role: 'worker' | 'producer', tls?: ClientTls): RedisClient;
export function redisConnection(target: RedisTarget, role: 'worker' | 'producer', tls?: ClientTls): RedisClient {
  const opts: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, connectTimeout: 5_000, enableOfflineQueue: true };
  let redis: RedisClient;
  if (typeof target === 'string') {
    // rediss:// turns TLS on by itself; the files add a private CA and a client certificate.
    redis = new Redis(target, tls ? { ...opts, tls } : opts);
  } else {
    const nodeOpts: RedisOptions = {
      ...opts,
      ...(target.tls ? { tls: tls ?? {} } : {}),
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
    };
    const clusterOpts: ClusterOptions = {
      redisOptions: nodeOpts,
      enableReadyCheck: true,
      enableOfflineQueue: true,
      // A failover takes the cluster's node timeout plus an election (seconds): a worker's commands keep
      // being redirected and retried meanwhile; a producer's give up after about a second, as on one server.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      maxRedirections: role === 'worker' ? 1_000 : 6,
      slotsRefreshTimeout: 2_000,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    };
    redis = new Cluster(target.nodes, clusterOpts);
  }
  // Errors are retried by ioredis; without a listener each one would be an unhandled 'error' event.
  redis.on('error', () => {});
  return redis;
}

/**
 * The BullMQ prefix of a system's queues. On one server it is QUEUE_PREFIX itself, as always. On a
 * cluster it is QUEUE_PREFIX as a hash tag, `{arp}`: BullMQ's scripts touch many keys of a queue at once,
 * and a task's flow (the report parent and its detail children) spans queues, so every key of every
 * queue must sit in one hash slot — one shard. A cluster therefore adds failover, not queue capacity.
 */
export function queuePrefix(connection: RedisClient, prefix: string): string {
  return connection.isCluster ? `{${prefix}}` : prefix;
}

/**
 * Removes every key of one system's prefix (a test's or a benchmark's queues, when it is done): BullMQ's
 * and our own (`<prefix>:…`, and on a cluster `{<prefix>}:…` too); other prefixes are untouched. On a
 * cluster every master is scanned (each holds only its own slots), and keys are deleted one by one (a
 * multi-key DEL must stay within one slot).
 */
export async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  if (!redis.isCluster) return deleteMatching(redis as Redis, [`${prefix}:*`], false);
  for (const node of (redis as Cluster).nodes('master')) await deleteMatching(node, [`{${prefix}}:*`, `${prefix}:*`], true);
}

async function deleteMatching(node: Redis, patterns: string[], oneByOne: boolean): Promise<void> {
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length && !oneByOne) await node.del(...keys);
      else if (keys.length) {
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.del(key);
        await pipeline.exec();
      }
      cursor = next;
    } while (cursor !== '0');
  }
}
