import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { redisConnection } from '../../queues/connection.ts';
import { loadConfig } from '../../shared/config.ts';
import { openDatabase, type Db } from '../../shared/db/index.ts';
import { createLogger } from '../../shared/log.ts';
import { serveWorkerHttp, workerHttpApp } from './worker-http.ts';

/** A worker process's own port (WORKER_HTTP_PORT): liveness, readiness and its metrics. */
describe('the worker HTTP port', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'arp-whttp-'));
  let database: Db;
  let redis: Redis;
  let deadRedis: Redis;
  beforeAll(async () => {
    database = await openDatabase({ databaseUrl: inject('databaseUrl'), schema: 'public', dataDir, inMemory: true, poolSize: 1 });
    redis = redisConnection(inject('redisUrl'), 'producer');
    // Nothing listens on port 1: every command fails.
    deadRedis = redisConnection('redis://127.0.0.1:1', 'producer');
  });
  afterAll(async () => {
    redis?.disconnect();
    deadRedis?.disconnect();
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const log = createLogger('silent');

  it('is off unless WORKER_HTTP_PORT is set', async () => {
    expect(loadConfig({}).WORKER_HTTP_PORT).toBeUndefined();
    expect(await serveWorkerHttp(undefined, '127.0.0.1', { redis: [redis], database, log, accepting: () => true })).toBeUndefined();
  });

  it('serves /healthz, /readyz and /metrics on its port, without a login', async () => {
    const served = (await serveWorkerHttp(0, '127.0.0.1', { redis: [redis], database, log, accepting: () => true }))!;
    try {
      const base = `http://127.0.0.1:${served.port}`;
      const health = await fetch(`${base}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await fetch(`${base}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { redis: 'ok', postgres: 'ok' } }]);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      const text = await metrics.text();
      for (const family of ['arp_job_duration_seconds', 'arp_job_wait_seconds', 'arp_provider_request_duration_seconds', 'arp_provider_errors_total', 'arp_money_moved_fen_total', 'arp_tasks_ended_total', 'arp_process_resident_memory_bytes']) {
        expect(text).toContain(`# TYPE ${family} `);
      }
      const missing = await fetch(`${base}/admin`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await served.close();
    }
  });

  it('is not ready when Redis does not answer, or while the process is stopping; it stays alive', async () => {
    const down = workerHttpApp({ redis: [redis, deadRedis], database, log, accepting: () => true });
    const res = await down.request('/readyz');
    expect([res.status, await res.json()]).toEqual([503, { status: 'not_ready', checks: { redis: 'down', postgres: 'ok' } }]);
    let accepting = true;
    const stopping = workerHttpApp({ redis: [redis], database, log, accepting: () => accepting });
    expect((await stopping.request('/readyz')).status).toBe(200);
    accepting = false;
    const res2 = await stopping.request('/readyz');
    expect([res2.status, await res2.json()]).toEqual([503, { status: 'not_ready', checks: { redis: 'ok', postgres: 'ok' } }]);
    expect((await stopping.request('/healthz')).status).toBe(200);
  });
});
