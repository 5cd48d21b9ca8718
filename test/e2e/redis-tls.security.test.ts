import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../apps/start/redis.ts';
import { redisConnection } from '../../queues/connection.ts';
import { ConfigError, loadConfig, redisTls } from '../../shared/config.ts';
import { clientTls } from '../../shared/tls-files.ts';
import { makeTestPki, type TestPki } from '../support/certs.ts';
import { redisAnswers } from '../support/redis-probe.ts';
import { openHarness, postTask, waitForEnd, type Harness } from '../support/harness.ts';

/** A private redis-server that speaks TLS only and, by default, requires a client certificate. */
async function startTlsRedis(pki: TestPki): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'arp-tls-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', pki.server.cert, '--tls-key-file', pki.server.key, '--tls-ca-cert-file', pki.caCert, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const tls = clientTls({ caFile: pki.caCert, certFile: pki.client.cert, keyFile: pki.client.key }, { ca: 'ca', cert: 'cert', key: 'key' })!;
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(`rediss://127.0.0.1:${port}`, { tls })) return { port, child, dir };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server with TLS did not start (is this build without TLS?)');
}

describe('TLS to Redis (rediss:// with REDIS_CA_FILE, REDIS_CERT_FILE, REDIS_KEY_FILE)', () => {
  let pki: TestPki;
  let redis: Awaited<ReturnType<typeof startTlsRedis>>;
  let h: Harness;

  beforeAll(async () => {
    pki = makeTestPki();
    redis = await startTlsRedis(pki);
    h = await openHarness({
      workers: 'all',
      env: { REDIS_URL: `rediss://127.0.0.1:${redis.port}`, REDIS_CA_FILE: pki.caCert, REDIS_CERT_FILE: pki.client.cert, REDIS_KEY_FILE: pki.client.key },
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    redis?.child.kill('SIGKILL');
    if (redis) rmSync(redis.dir, { recursive: true, force: true });
    pki?.remove();
  });

  it('runs a task end to end with every queue on a Redis that speaks only TLS', async () => {
    const id = await postTask(h, { theme: 'semiconductor', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2 });
    expect((await waitForEnd(h, id, 60_000)).status).toBe('completed');
    // The queues really live there: the task's jobs are in that server's keys.
    expect((await h.redis.keys(`${h.config.QUEUE_PREFIX}:report:*`)).length).toBeGreaterThan(0);
    expect((await h.api('/readyz')).status).toBe(200);
  });

  it('the server refuses plain text, a client without a certificate, and a client that does not know our CA', async () => {
    const url = `rediss://127.0.0.1:${redis.port}`;
    expect(await redisAnswers(`redis://127.0.0.1:${redis.port}`)).toBe(false);
    expect(await redisAnswers(url, { tls: clientTls({ caFile: pki.caCert }, { ca: 'ca', cert: 'cert', key: 'key' }) }, 2_000)).toBe(false);
    expect(await redisAnswers(url, { tls: clientTls({ certFile: pki.client.cert, keyFile: pki.client.key }, { ca: 'ca', cert: 'cert', key: 'key' }) }, 2_000)).toBe(false);
    expect(await redisAnswers(url, { tls: clientTls({ caFile: pki.caCert, certFile: pki.client.cert, keyFile: pki.client.key }, { ca: 'ca', cert: 'cert', key: 'key' }) }, 2_000)).toBe(true);
  });

  it('the connection the processes open carries the TLS files', async () => {
    const config = loadConfig({ REDIS_URL: `rediss://127.0.0.1:${redis.port}`, REDIS_CA_FILE: pki.caCert, REDIS_CERT_FILE: pki.client.cert, REDIS_KEY_FILE: pki.client.key });
    const conn = redisConnection(config.REDIS_URL!, 'producer', redisTls(config));
    try {
      expect(await conn.ping()).toBe('PONG');
    } finally {
      conn.disconnect();
    }
  });

  it('TLS files need a rediss:// URL, and a certificate needs its key', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CA_FILE: '/ca.crt' })).toThrow(/REDIS_URL must be rediss:\/\//);
    expect(() => loadConfig({ REDIS_CA_FILE: '/ca.crt' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_CERT_FILE: '/c.crt' })).toThrow(/REDIS_CERT_FILE, REDIS_KEY_FILE: give both/);
  });
});
