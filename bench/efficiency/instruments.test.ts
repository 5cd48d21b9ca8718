import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { observeJob, pipelineRegistry, statementSent } from '../../shared/telemetry/metrics.ts';
import { delta, JOBS, parseProm, STATEMENTS, sumBy } from './metrics.ts';
import { createBenchDatabase, enableWalInspect, ourWal, walFlushedLsn, walInsertLsn } from './postgres.ts';
import { callsBetween, keyKindOf, memoryByKind, redisInfo, startBenchRedis } from './redis.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { jobId } from '../../queues/options.ts';
import { verdict } from './stats.ts';

/** The efficiency bench reads the product's costs from outside it: its readings must be what happened. */
const databaseUrl = inject('databaseUrl');

describe.skipIf(!databaseUrl)('the bench picks its own WAL out of the cluster (pg_walinspect)', () => {
  it("counts the commits of our writing transactions only, and our row writes by table, whatever another database writes meanwhile", async () => {
    const id = randomBytes(3).toString('hex');
    const ours = await createBenchDatabase(databaseUrl!, `t_${id}`);
    const other = await createBenchDatabase(databaseUrl!, `o_${id}`);
    try {
      const missing = await enableWalInspect(ours);
      expect(missing).toBeUndefined();
      await ours.own.query('create table t (id int primary key, v int)');
      await other.own.query('create table o (id int primary key)');
      const from = await walInsertLsn(ours);
      await ours.own.query('insert into t values (1, 1), (2, 2)'); // commit 1: two row inserts
      await other.own.query('insert into o values (1)'); // another database's commit
      await ours.own.query('select * from t'); // reads only: no commit record, no flush
      await ours.own.query('update t set v = 3 where id = 1'); // commit 2: a HOT update (no indexed column changed)
      await ours.own.query('begin');
      await ours.own.query('update t set id = 3 where id = 2'); // commit 3: the key changes, not HOT
      await ours.own.query('select 1');
      await ours.own.query('commit');
      await ours.own.query('begin');
      await ours.own.query('select * from t for update'); // commit 4: row locks write WAL too
      await ours.own.query('commit');
      await ours.own.query('begin');
      await ours.own.query('select count(*) from t');
      await ours.own.query('commit'); // a read-only transaction: nothing to flush
      await other.own.query('delete from o');
      const wal = await ourWal(ours, from, await walFlushedLsn(ours));
      expect(wal!.commits).toBe(4);
      expect(wal!.tables.get('public.t')).toEqual({ insert: 2, update: 1, hotUpdate: 1, delete: 0, lock: 2 });
      expect([...wal!.tables.keys()]).toEqual(['public.t']);
      expect(wal!.bytes).toBeGreaterThan(0);
    } finally {
      await ours.drop();
      await other.drop();
    }
  });
});

describe('the bench reads the product counters from /metrics text', () => {
  it("sums a process's statements by kind and its stage jobs by queue between two scrapes", async () => {
    const before = parseProm(await pipelineRegistry.metrics());
    statementSent('query');
    statementSent('query');
    statementSent('begin');
    statementSent('commit');
    observeJob('detail', 'completed', 0.01);
    observeJob('detail', 'completed', 0.02);
    observeJob('detail', 'retry', 0.02);
    observeJob('report', 'failed', 0.5);
    const d = delta(before, parseProm(await pipelineRegistry.metrics()));
    const statements = sumBy(d, STATEMENTS, 'kind');
    expect([statements.get('query'), statements.get('begin'), statements.get('commit'), statements.get('rollback') ?? 0]).toEqual([2, 1, 1, 0]);
    const jobs = sumBy(d, JOBS, 'queue', { outcome: ['completed', 'failed'] });
    expect([jobs.get('detail'), jobs.get('report'), jobs.get('search') ?? 0]).toEqual([2, 1, 0]);
    expect(sumBy(d, JOBS, undefined, { outcome: ['retry', 'waiting'] }).get('')).toBe(1);
  });
});

describe.skipIf(spawnSync('redis-server', ['--version']).error)("the bench's own Redis", () => {
  it('counts every command, those a Lua script runs too, less its own and INFO', async () => {
    const server = await startBenchRedis('redis://127.0.0.1:6379');
    const redis = new Redis(server.url);
    try {
      expect(server.private).toBe(true);
      const before = await redisInfo(redis);
      await redis.set('a', '1');
      await redis.eval("redis.call('set', KEYS[1], '2'); return redis.call('get', KEYS[1])", 1, 'a');
      await redis.llen('q'); // "the bench's own"
      const calls = callsBetween(before, await redisInfo(redis), new Map([['llen', 1]]));
      expect(Object.fromEntries(calls)).toEqual({ set: 2, get: 1, eval: 1 });
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
  it("tells the soak where Redis's memory went, by kind, over its own prefix only", async () => {
    const server = await startBenchRedis('redis://127.0.0.1:6379');
    const redis = new Redis(server.url);
    const p = 'bench-1-soak_split';
    const task = '0b7f2c1e-5a4d-4c3b-9a8f-1e2d3c4b5a69';
    try {
      await redis.set(`${p}:search-cache:k1:${'a'.repeat(64)}`, 'x'.repeat(40_000));
      await redis.hset(`${p}:detail:${jobId.detail(task, 'co_1')}`, 'data', 'y'.repeat(2_000));
      await redis.hset(`${p}:report:${jobId.report(task)}:processed`, 'k', 'v');
      await redis.hset(`${p}:webhook:17`, 'data', '{}');
      await redis.zadd(`${p}:detail:completed`, 1, jobId.detail(task, 'co_1'));
      await redis.xadd(`${p}:search:events`, '*', 'event', 'completed');
      await redis.zadd(`${p}:tenant-submissions:acme`, Date.now(), 'a1');
      await redis.set(`${p}:stray`, '1');
      await redis.set(`another-prefix:search-cache:k1:${'b'.repeat(64)}`, 'z'.repeat(40_000));
      const kinds = await memoryByKind(redis, p, QUEUE_NAMES);
      expect(Object.fromEntries([...kinds].map(([k, v]) => [k, v.keys]))).toEqual({ 'search cache': 1, 'jobs kept': 3, 'queue indexes': 1, 'events streams': 1, 'rate limits': 1, other: 1 });
      expect(kinds.get('search cache')!.bytes).toBeGreaterThan(40_000);
      expect(kinds.get('search cache')!.bytes).toBeLessThan(80_000); // the other prefix's entry is not ours
      expect(kinds.get('jobs kept')!.bytes).toBeGreaterThan(2_000);
      expect(keyKindOf(`${p}:search:meta`, p, QUEUE_NAMES)).toBe('queue indexes');
      expect(keyKindOf(`${p}:authorize:${jobId.authorize(task)}:lock`, p, QUEUE_NAMES)).toBe('jobs kept');
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('a soak series read as flat or growing with the history kept', () => {
  const bytes = (n: number) => `${n.toFixed(0)} B`;
  const tasks = Array.from({ length: 10 }, (_, i) => i * 100);
  it('calls a series flat when it stays within 5 % after the start, whatever the start did', () => {
    expect(verdict(tasks, [50, 90, 100, 101, 99, 100, 102, 100, 101, 100], bytes)).toMatch(/^flat/);
  });
  it('gives the growth per task of a series that grows with the tasks', () => {
    expect(verdict(tasks, tasks.map((t) => 1_000_000 + 2_000 * t), bytes)).toMatch(/^grows 2000 B per task/);
  });
});
