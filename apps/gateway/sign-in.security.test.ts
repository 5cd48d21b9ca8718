import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openHarness, type Harness } from '../../test/support/harness.ts';
import { serveApp } from '../runtime/serve.ts';
import { createApp } from './app.ts';
import { AuthThrottle } from './throttle.ts';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const ADMIN = basic('admin', 'test-admin');
const RIGHT = { authorization: `Bearer ${API_KEY}` };
const WRONG = { authorization: 'Bearer not-the-key' };

/**
 * Failed sign-ins are throttled per client address (issue 7, item 5): after 20 failures within a
 * minute — wrong API keys and wrong admin logins alike — every sign-in from that address answers 429
 * rate_limited with Retry-After for a minute, the right credential too. The address is the socket's;
 * X-Forwarded-For counts only from a trusted proxy (TRUSTED_PROXIES). The count is in Redis, so every
 * gateway replica sees it.
 */
describe('failed sign-ins: 429 after 20 a minute from one address', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await openHarness({ env: { TRUSTED_PROXIES: '10.0.0.0/8' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A request as if it came over a socket from `address`. */
  const from = (address: string, path: string, headers: Record<string, string> = {}) => h.app.request(path, { headers }, { incoming: { socket: { remoteAddress: address } } });

  async function fail(address: string, times: number, how: 'api' | 'admin' = 'api', headers: Record<string, string> = {}) {
    for (let i = 0; i < times; i++) {
      const res = how === 'api' ? await from(address, '/v1/tasks', { ...WRONG, ...headers }) : await from(address, '/admin/dashboard.json', { ...basic('admin', `guess-${i}`), ...headers });
      expect(res.status, `failure ${i + 1}`).toBe(401);
    }
  }

  async function expectThrottled(res: Response) {
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as { code: string }).code).toBe('rate_limited');
    const wait = Number(res.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(55);
    expect(wait).toBeLessThanOrEqual(60);
  }

  it('20 wrong API keys, then even the right key is 429 for a minute; another address is not affected', async () => {
    await fail('203.0.113.7', 20);
    await expectThrottled(await from('203.0.113.7', '/v1/tasks', RIGHT));
    await expectThrottled(await from('203.0.113.7', '/admin/dashboard.json', ADMIN));
    expect((await from('203.0.113.8', '/v1/tasks', RIGHT)).status).toBe(200);
  });

  it('19 failures are not enough', async () => {
    await fail('203.0.113.20', 19);
    expect((await from('203.0.113.20', '/v1/tasks', RIGHT)).status).toBe(200);
  });

  it('wrong admin logins count, and together with wrong API keys', async () => {
    await fail('203.0.113.30', 20, 'admin');
    await expectThrottled(await from('203.0.113.30', '/admin/queues/api/queues', ADMIN));
    await expectThrottled(await from('203.0.113.30', '/metrics', ADMIN));
    await fail('203.0.113.31', 10, 'admin');
    await fail('203.0.113.31', 10, 'api');
    await expectThrottled(await from('203.0.113.31', '/v1/tasks', RIGHT));
  });

  it('requests that present no credential are not failures', async () => {
    for (let i = 0; i < 25; i++) expect((await from('203.0.113.40', '/v1/tasks')).status).toBe(401);
    for (let i = 0; i < 25; i++) expect((await from('203.0.113.40', '/admin/queues')).status).toBe(401);
    expect((await from('203.0.113.40', '/v1/tasks', RIGHT)).status).toBe(200);
  });

  it('X-Forwarded-For from an untrusted peer is ignored: a new one per try does not escape the count', async () => {
    for (let i = 0; i < 20; i++) expect((await from('203.0.113.50', '/v1/tasks', { ...WRONG, 'x-forwarded-for': `198.51.100.${i}` })).status).toBe(401);
    await expectThrottled(await from('203.0.113.50', '/v1/tasks', { ...RIGHT, 'x-forwarded-for': '198.51.100.99' }));
  });

  it('behind a trusted proxy the client named in X-Forwarded-For is counted, and a spoofed left part does not help', async () => {
    await fail('10.0.0.2', 20, 'api', { 'x-forwarded-for': '198.51.100.7' });
    await expectThrottled(await from('10.0.0.2', '/v1/tasks', { ...RIGHT, 'x-forwarded-for': '198.51.100.7' }));
    // The client wrote "1.2.3.4" itself; the proxy appended the address it saw.
    await expectThrottled(await from('10.0.0.3', '/v1/tasks', { ...RIGHT, 'x-forwarded-for': '1.2.3.4, 198.51.100.7' }));
    // Another client through the same proxy, and the proxy's own address, are not throttled.
    expect((await from('10.0.0.2', '/v1/tasks', { ...RIGHT, 'x-forwarded-for': '198.51.100.8' })).status).toBe(200);
    expect((await from('10.0.0.2', '/v1/tasks', RIGHT)).status).toBe(200);
  });

  it('an IPv6 client is counted by its /64 (one host usually holds the whole network)', async () => {
    for (let i = 0; i < 20; i++) expect((await from(`2001:db8:1:2::${(i + 1).toString(16)}`, '/v1/tasks', WRONG)).status).toBe(401);
    await expectThrottled(await from('2001:db8:1:2:ffff::9', '/v1/tasks', RIGHT));
    expect((await from('2001:db8:1:3::1', '/v1/tasks', RIGHT)).status).toBe(200);
    // An IPv4 client on a dual-stack socket is its IPv4 address.
    await fail('::ffff:203.0.113.60', 20);
    await expectThrottled(await from('203.0.113.60', '/v1/tasks', RIGHT));
  });

  it('over HTTP the socket address is what counts', async () => {
    const fresh = await openHarness();
    const server = await serveApp(fresh.app, 0, '127.0.0.1');
    try {
      const get = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${server.port}/v1/tasks`, { headers });
      for (let i = 0; i < 20; i++) expect((await get({ ...WRONG, 'x-forwarded-for': `198.51.100.${i}` })).status).toBe(401);
      const res = await get(RIGHT);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      // Every gateway replica shares the count (it is in Redis): a second app on the same queues refuses too.
      const replica = await serveApp(createApp({ repos: fresh.repos, database: fresh.database, producer: fresh.producer, redis: fresh.redis, log: fresh.deps.log, config: fresh.config }), 0, '127.0.0.1');
      try {
        expect((await fetch(`http://127.0.0.1:${replica.port}/v1/tasks`, { headers: RIGHT })).status).toBe(429);
      } finally {
        await replica.close();
      }
    } finally {
      await server.close();
      await fresh.close();
    }
  });

  it('the refusal ends when the window has passed', async () => {
    const throttle = new AuthThrottle(h.redis, h.config.QUEUE_PREFIX, 3, h.deps.log, 400);
    for (let i = 0; i < 3; i++) await throttle.fail('window-test');
    expect(await throttle.blockedFor('window-test')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 600));
    expect(await throttle.blockedFor('window-test')).toBe(0);
  });

  it('without Redis the throttle steps aside: sign-ins are checked as always', async () => {
    const down = { status: 'end', ping: () => Promise.reject(new Error('down')) };
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: down as never, log: h.deps.log, config: h.config });
    const env = { incoming: { socket: { remoteAddress: '203.0.113.70' } } };
    for (let i = 0; i < 25; i++) expect((await app.request('/v1/tasks', { headers: WRONG }, env)).status).toBe(401);
    expect((await app.request('/v1/tasks', { headers: RIGHT }, env)).status).toBe(200);
  });
});
