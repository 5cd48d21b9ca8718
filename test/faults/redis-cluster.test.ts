import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Cluster as RedisCluster } from 'ioredis';
import { announceRevocation, KeyRevocations } from '../../apps/gateway/key-revocations.ts';
import { deletePrefix, redisConnection } from '../../queues/connection.ts';
import { loadConfig, redisTarget } from '../../shared/config.ts';
import { publishEventWakeups, taskEventChannel } from '../../shared/events/wakeups.ts';
import { Cluster } from '../support/cluster.ts';
import { redisClusterUnavailable, RedisClusterServers } from '../support/redis-cluster.ts';

const databaseUrl = inject('databaseUrl');
const unavailable = redisClusterUnavailable();
if (unavailable) console.warn(`skipping the Redis Cluster test: ${unavailable}`);

const THEMES = ['battery', 'logistics', 'robotics', 'semiconductor'];

/**
 * The whole system on a real Redis Cluster (3 masters, one replica each, REDIS_CLUSTER_NODES), with
 * split worker processes: every queue under one hash tag, tasks end with exact books; then the master
 * that holds the queues' slot is killed mid-run, its replica takes over, and every task still ends
 * with exact books.
 */
describe.skipIf(!databaseUrl || unavailable)('on a Redis Cluster', () => {
  let servers: RedisClusterServers;
  let cluster: Cluster;
  let slot: number;

  beforeAll(async () => {
    servers = new RedisClusterServers(3, 1_000);
    await servers.start();
    cluster = new Cluster({ redisUrl: 'redis://127.0.0.1:1', redisClusterNodes: servers.seeds, databaseUrl: databaseUrl!, workers: 2, faults: { latency_ms: 150, seed: 17 } });
    await cluster.start();
    slot = await servers.keySlot(`{${cluster.prefix}}:detail:wait`);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
    await servers?.close();
  });

  it('runs tasks end to end with every queue key in the one slot of the prefix hash tag', async () => {
    expect(cluster.producer.prefix).toBe(`{${cluster.prefix}}`);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await cluster.post({ theme: THEMES[i]!, budget: '50', voiceId: 'demo-voice', maxCompanies: 3 }));
    await cluster.waitAllEnded(ids, 45_000);
    const { statuses } = await cluster.checkInvariants(ids);
    expect(statuses.completed).toBe(ids.length);
    await cluster.checkStories(ids);

    // The queues' keys all live on the master of the one slot; no other master holds any of them.
    const holder = (await servers.masterOf(slot))!;
    const masters = (await servers.topology()).filter((n) => n.master && !n.failed);
    expect(masters).toHaveLength(3);
    const queueKeys = await servers.on<string[]>(holder, 'KEYS', `{${cluster.prefix}}:*`);
    expect(queueKeys.some((k) => k.startsWith(`{${cluster.prefix}}:report:`))).toBe(true);
    for (const key of queueKeys.slice(0, 50)) expect(await servers.keySlot(key)).toBe(slot);
    // Elsewhere only our own single-key entries (search cache, submission counts: `<prefix>:…`), never a queue's.
    for (const m of masters.filter((n) => n.port !== holder)) {
      const keys = await servers.on<string[]>(m.port, 'KEYS', `*${cluster.prefix}*`);
      expect(keys.filter((k) => !k.startsWith(`${cluster.prefix}:search-cache:`) && !k.startsWith(`${cluster.prefix}:tenant-submissions:`))).toEqual([]);
    }
  });

  it('keeps every task going when the master of the queues is killed and its replica takes over', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await cluster.post({ theme: THEMES[i]!, budget: '50', voiceId: 'demo-voice', maxCompanies: 4 }));
    await cluster.waitForStage(ids, 'detail', 30_000);
    const open = await cluster.database.db.selectFrom('tasks').select('id').where('id', 'in', ids).where('status', 'in', ['queued', 'running']).execute();
    expect(open.length).toBeGreaterThan(0);

    const victim = (await servers.masterOf(slot))!;
    const killedAt = Date.now();
    await servers.kill(victim);
    // A replica of the dead master is promoted: the slot has a healthy master again, on another node.
    let promoted: number | undefined;
    while (!(promoted = await servers.masterOf(slot)) || promoted === victim) {
      if (Date.now() - killedAt > 30_000) throw new Error('no replica took over the queues slot within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const failoverMs = Date.now() - killedAt;
    await servers.waitHealthy(15_000);

    await cluster.waitAllEnded(ids, 90_000);
    const endedMs = Date.now() - killedAt;
    const { statuses } = await cluster.checkInvariants(ids);
    expect(statuses.completed).toBe(ids.length);
    await cluster.checkStories(ids);
    await cluster.waitDashboardCaughtUp(ids, 20_000);
    const interrupted = (await Promise.all((['search', 'authorize', 'detail', 'report'] as const).map((q) => cluster.interruptedJobs(q)))).flat().length;
    console.info(`redis cluster failover: master :${victim} killed, replica :${promoted} serving after ${failoverMs} ms; ${open.length} tasks open at the kill all ended ${endedMs} ms after it; ${interrupted} jobs recovered as stalled`);
  });

  it('carries wake-ups and key revocations (classic pub/sub) to subscribers on any node, after the failover too', async () => {
    const target = redisTarget(loadConfig({ REDIS_CLUSTER_NODES: servers.seeds }))!;
    const log = { warn() {} } as never;
    const revocations = new KeyRevocations(redisConnection(target, 'worker'), cluster.prefix, log);
    const subscriber = redisConnection(target, 'worker');
    try {
      const heard = new Promise<string>((resolve) => revocations.onRevoked(resolve));
      await revocations.subscribed;
      await announceRevocation(cluster.redis, cluster.prefix, 'key_17', log);
      expect(await heard).toBe('key_17');

      await subscriber.subscribe(taskEventChannel(cluster.prefix, 'task_17'));
      const woken = new Promise<string>((resolve) => subscriber.on('message', (channel: string) => resolve(channel)));
      let written: (taskId: string) => void = () => {};
      publishEventWakeups({ events: { onWritten: (fn: (taskId: string) => void) => (written = fn) } } as never, cluster.redis, cluster.prefix);
      written('task_17');
      expect(await woken).toBe(taskEventChannel(cluster.prefix, 'task_17'));
    } finally {
      await revocations.close();
      subscriber.disconnect();
    }
  });

  it('cleans up a prefix on every master', async () => {
    const redis = cluster.redis as RedisCluster;
    // Our own keys (the search cache, rate limits) are spread over the slots; the queues sit under the tag.
    for (let i = 0; i < 20; i++) await redis.set(`${cluster.prefix}:probe:${i}`, '1');
    const holding = async () => {
      const masters = (await servers.topology()).filter((n) => n.master && !n.failed);
      return (await Promise.all(masters.map((m) => servers.on<string[]>(m.port, 'KEYS', `*${cluster.prefix}*`)))).map((keys) => keys.length);
    };
    expect((await holding()).filter((n) => n > 0).length).toBeGreaterThan(1);
    await cluster.stopWorkers(); // a running worker writes its queues' keys again at once
    await deletePrefix(redis, cluster.prefix);
    expect(await holding()).toEqual([0, 0, 0]);
  });
});
