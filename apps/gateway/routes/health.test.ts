import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { createApp } from '../app.ts';

/**
 * GET /healthz (the process is alive) and GET /readyz (Redis and Postgres answer), DESIGN.md §5.
 * Probes carry no API key.
 */
describe('health', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('GET /healthz answers 200 without an API key', async () => {
    const res = await h.app.request('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with both checks ok, without an API key', async () => {
    const res = await h.app.request('/readyz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as any;
    expect(body.status).toBe('ready');
    expect(body.checks).toEqual({ redis: 'ok', postgres: 'ok' });
  });

  it('GET /readyz answers 503 naming Redis when Redis does not answer', async () => {
    const redis = { ping: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) };
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: redis as never, log: h.deps.log, config: h.config });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.status).not.toBe('ready');
    expect(body.checks.postgres).toBe('ok');
    expect(body.checks.redis).not.toBe('ok');
  });

  it('GET /readyz answers 503 within a bounded time when Redis hangs', async () => {
    const redis = { ping: () => new Promise(() => {}) };
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: redis as never, log: h.deps.log, config: h.config });
    const started = Date.now();
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(((await res.json()) as any).checks.redis).not.toBe('ok');
  });

  it('GET /healthz stays 200 while a dependency is down (alive is not ready)', async () => {
    const redis = { ping: () => Promise.reject(new Error('down')) };
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: redis as never, log: h.deps.log, config: h.config });
    expect((await app.request('/healthz')).status).toBe(200);
  });
});
