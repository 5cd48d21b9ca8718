import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../../apps/start/redis.ts';
import { Cluster } from '../support/cluster.ts';

const databaseUrl = inject('databaseUrl');

/** A private redis-server that keeps nothing: a restart loses every queued job, as the design fears. */
class VolatileRedis {
  child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'arp-volatile-redis-'));
  constructor(readonly port: number) {}
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    const { Redis } = await import('ioredis');
    for (let i = 0; i < 100; i++) {
      const r = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    throw new Error('redis-server did not start');
  }
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Redis without persistence restarts while tasks are in flight: every queued job is gone. The
 * workers' sweeper finds the unfinished tasks in Postgres (the source of truth) and drives them on.
 */
describe.skipIf(!databaseUrl)('a Redis restart that loses every job', () => {
  let redis: VolatileRedis;
  let cluster: Cluster;

  beforeAll(async () => {
    redis = new VolatileRedis(await freePort());
    await redis.start();
    cluster = new Cluster({ redisUrl: `redis://127.0.0.1:${redis.port}`, databaseUrl: databaseUrl!, workers: 2, faults: { latency_ms: 150, seed: 9 } });
    await cluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
    await redis?.close();
  });

  it('drives every unfinished task on from Postgres after the restart', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await cluster.post({ theme: ['battery', 'logistics', 'robotics', 'semiconductor'][i % 4]!, budget: '50', voiceId: 'demo-voice', maxCompanies: 4 }));
    await cluster.waitForStage(ids, 'detail', 30_000);
    const openAtCrash = (await cluster.database.db.selectFrom('tasks').select('id').where('status', 'in', ['queued', 'running']).execute()).length;
    expect(openAtCrash).toBeGreaterThan(0);

    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.start();

    await cluster.waitAllEnded(ids, 60_000);
    const { statuses } = await cluster.checkInvariants(ids);
    expect(statuses.completed).toBe(ids.length);
    await cluster.waitDashboardCaughtUp(ids, 20_000);
  }, 120_000);
});
