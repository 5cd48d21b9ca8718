import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { deletePrefix, redisConnection } from '../queues/connection.ts';
import { ConfigError, loadConfig } from './config.ts';
import { dropSchema, openDatabase } from './db/index.ts';
import { createLogger } from './log.ts';
import { programArgs } from '../test/support/programs.ts';

const ROOT = new URL('../', import.meta.url).pathname;

/** A logger writing into an array of lines. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger('info', 'test', sink), text: () => lines.join('') };
}

/**
 * No secret in logs or configuration errors (issue 7, item 4): the credentials of every URL a line
 * holds are masked (where it is stays readable); a configuration error names the variable, not its
 * value.
 */
describe('the logger masks the credentials of every URL it writes', () => {
  it('in fields at any depth, arrays, the message and errors; host and port stay', () => {
    const { log, text } = capture();
    log.info({ redis: 'redis://:R3dis-Pa55@cache.internal:6380/2', db: { url: 'postgres://arp:Pg-Pa55@db:5432/arp' }, list: ['https://ghp_TokenAsUser@git.example/x'] }, 'up on redis://default:Msg-Pa55@cache.internal:6380');
    log.warn({ err: new Error('connect to amqp://u:Err-Pa55@mq:5672 failed') }, 'failed');
    log.error(new Error('rediss://:Bare-Pa55@cache:6379 unreachable'));
    const out = text();
    for (const secret of ['R3dis-Pa55', 'Pg-Pa55', 'ghp_TokenAsUser', 'Msg-Pa55', 'Err-Pa55', 'Bare-Pa55']) expect(out).not.toContain(secret);
    expect(out).toContain('redis://:***@cache.internal:6380/2');
    expect(out).toContain('postgres://arp:***@db:5432/arp');
    expect(out).toContain('https://***@git.example/x');
    expect(out).toContain('redis://default:***@cache.internal:6380');
    expect(out).toContain('amqp://u:***@mq:5672');
  });

  it('any generated password in a logged URL is masked', () => {
    const password = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\s/?#@]/.test(s)).map((s) => `Zq8${s}`);
    fc.assert(
      fc.property(fc.constantFrom('redis', 'rediss', 'postgres', 'https'), fc.string({ maxLength: 10 }).filter((s) => !/[\s/?#@:]/.test(s)), password, (scheme, user, pw) => {
        const { log, text } = capture();
        log.info({ url: `${scheme}://${user}:${pw}@host.example:1234/x` }, `at ${scheme}://${user}:${pw}@host.example`);
        expect(text()).not.toContain(pw);
        expect(text()).toContain('@host.example:1234/x');
      }),
      { numRuns: 200 },
    );
  });

  it('`npm start` does not log the password of REDIS_URL', async () => {
    const prefix = `t-log-${randomBytes(4).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'arp-log-'));
    const password = `Redis-Pw-${randomBytes(6).toString('hex')}`;
    // The shared Postgres in a schema of its own when there is one (embedded PGlite takes far longer to start).
    const databaseUrl = inject('databaseUrl');
    const books: Record<string, string> = databaseUrl ? { DATABASE_URL: databaseUrl, DATABASE_SCHEMA: prefix.replaceAll('-', '_') } : {};
    const url = new URL(inject('redisUrl'));
    url.password = password;
    const child = spawn(process.execPath, programArgs('apps/start/main.ts'), {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATA_DIR: dataDir, PORT: '0', REDIS_URL: url.toString(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'info', SWEEP_INTERVAL_MS: '0', ...books },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const deadline = Date.now() + 60_000;
      while (!/is up on http/.test(output) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(output).toMatch(/is up on http/);
      expect(output).toContain(`${url.host}`);
      expect(output).not.toContain(password);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 6_000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      const redis = redisConnection(inject('redisUrl'), 'producer');
      await deletePrefix(redis, prefix);
      await redis.quit();
      if (databaseUrl) {
        const database = await openDatabase({ databaseUrl, schema: books.DATABASE_SCHEMA!, dataDir, poolSize: 1 });
        await dropSchema(database);
        await database.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(output).not.toContain(password);
  }, 90_000);
});

describe('a configuration error names the variable, never its value', () => {
  function message(env: Record<string, string>): string {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('loadConfig accepted the configuration');
  }

  it.each([
    ['a pair with a third part', 'acme:ak_live_51HxQ2aLk9:extra'],
    ['a key without a tenant', ':ak_live_51HxQ2aLk9'],
    ['a good pair then a key with no colon', 'acme:ak_live_0000000001,ak_live_51HxQ2aLk9'],
  ])('a bad API_KEYS (%s) is named by entry, its keys are not shown', (_what, value) => {
    const text = message({ API_KEYS: value });
    expect(text).toMatch(/API_KEYS: entry \d is not tenant:key/);
    expect(text).not.toContain('ak_live_');
  });

  it('for generated bad values of any variable', () => {
    const marker = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[,:\s]/.test(s)).map((s) => `Vq7${s}`);
    fc.assert(
      fc.property(
        fc.constantFrom(
          (v: string) => ({ API_KEYS: `${v}` }),
          (v: string) => ({ API_KEYS: `a:${v}:x` }),
          (v: string) => ({ API_KEYS: `a:k,${v}` }),
          (v: string) => ({ REDIS_URL: `http://:${v}@127.0.0.1:6379` }),
          (v: string) => ({ DATABASE_URL: `mysql://root:${v}@db/x` }),
          (v: string) => ({ DATA_ENCRYPTION_KEYS: `k1:${v}` }),
          (v: string) => ({ TRUSTED_PROXIES: `10.0.0.1,${v}` }),
          (v: string) => ({ PORT: v }),
          (v: string) => ({ LOG_LEVEL: v }),
        ),
        marker,
        (env, v) => {
          const text = message(env(v));
          expect(text).not.toContain(v);
        },
      ),
      { numRuns: 300 },
    );
  });
});
