import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/log.ts';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { createApp } from '../app.ts';

/**
 * GET /readyz is unauthenticated (probes carry no credentials), so it says only which dependency is
 * down — never the driver's message, with its hosts, ports, users and paths (issue 7, item 5). The
 * reason goes to the log, for the operator.
 */
describe('GET /readyz names the dependency that is down, not why', () => {
  let h: Harness;
  let deadDb: Kysely<any>;

  beforeAll(async () => {
    h = await openHarness();
    deadDb = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://arp:Pg-Secret-1@127.0.0.1:1/books', connectionTimeoutMillis: 1_000 }) }) });
  });
  afterAll(async () => {
    await deadDb?.destroy();
    await h?.close();
  });

  it('both down: 503 with checks "down", and the reasons only in the log', async () => {
    const lines: string[] = [];
    const log = createLogger('info', 'test', new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) }));
    const redis = { ping: () => Promise.reject(new Error('connect ECONNREFUSED 10.20.30.40:6380 (redis://:Redis-Secret-2@cache.internal:6380)')) };
    const app = createApp({ ...h, redis: redis as never, database: { ...h.database, db: deadDb } as never, log, config: h.config });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: 'not_ready', checks: { redis: 'down', postgres: 'down' } });
    for (const leak of ['ECONNREFUSED', '10.20.30.40', 'cache.internal', '127.0.0.1', 'Redis-Secret-2', 'Pg-Secret-1', 'books']) expect(text).not.toContain(leak);
    const logged = lines.join('');
    expect(logged).toContain('10.20.30.40:6380');
    expect(logged).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
    expect(logged).not.toContain('Redis-Secret-2');
  });

  it('one down: the other still says ok', async () => {
    const redis = { ping: () => Promise.reject(new Error('NOAUTH Authentication required.')) };
    const res = await createApp({ ...h, redis: redis as never, config: h.config, log: h.deps.log }).request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'not_ready', checks: { redis: 'down', postgres: 'ok' } });
  });
});
