import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviders } from './index.ts';
import { request } from './http.ts';
import { providerPools } from './tls.ts';

/**
 * A provider that counts the connections made to it and those still open, and answers each request
 * after `delayMs` (a request whose path has `hang` in it never).
 */
let server: Server;
let base: string;
let opened = 0;
const open = new Set<Socket>();
let delayMs = 0;
let hanging = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.includes('hang')) return void hanging++;
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ verified: true, subject: 's', reference: 'r', amount: '1.00' })), delayMs);
  });
  server.on('connection', (socket: Socket) => {
    opened++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const fresh = () => {
  opened = 0;
  hanging = 0;
  delayMs = 0;
};
const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  return check();
};

describe('the connection pools to the providers', () => {
  it('keeps connections open between calls: a hundred calls in a row connect once or twice, not a hundred times', async () => {
    fresh();
    const pools = providerPools({}, 4);
    try {
      for (let i = 0; i < 100; i++) {
        const answer = await request(`${base}/v1/verify`, { provider: 'voiceid', route: 'POST /v1/verify', method: 'POST', json: { i }, timeoutMs: 2_000, dispatcher: pools });
        expect(answer.status).toBe(200);
      }
      // undici may open a second connection while the first one's first answer is still being wound up.
      expect(opened).toBeLessThanOrEqual(2);
    } finally {
      await pools.destroy();
    }
  });

  it('opens at most `connections` to one provider; more calls at once wait their turn', async () => {
    fresh();
    delayMs = 50;
    const pools = providerPools({}, 3);
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, () => request(`${base}/x`, { provider: 'marketplace', route: 'GET /x', timeoutMs: 5_000, dispatcher: pools })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(opened).toBe(3);
    } finally {
      await pools.destroy();
    }
  });

  it('a call waiting for a busy connection waits within its own time limit', async () => {
    fresh();
    const pools = providerPools({}, 1);
    try {
      const stuck = request(`${base}/hang`, { provider: 'issuer', route: 'POST /hang', method: 'POST', timeoutMs: 1_500, dispatcher: pools }).catch((e: Error) => e);
      const started = performance.now();
      await expect(request(`${base}/x`, { provider: 'issuer', route: 'GET /x', method: 'POST', timeoutMs: 200, dispatcher: pools })).rejects.toMatchObject({ code: 'timeout' });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(await stuck).toMatchObject({ code: 'timeout' });
    } finally {
      await pools.destroy();
    }
  });

  it("closing the providers' pools closes every connection, also one with a call in flight", async () => {
    fresh();
    const providers = createProviders({ marketplaceUrl: base, tokenIssuerUrl: base, voiceIdUrl: base, issuerApiKey: 'k', timeoutMs: 5_000 });
    await providers.voiceId.verify({ voiceId: 'v', subject: 's', reference: 'r', amount: '1.00' });
    const inFlight = providers.issuer.close('hang').catch((e: Error) => e);
    expect(await until(() => hanging === 1)).toBe(true);
    expect(open.size).toBeGreaterThan(0);
    await providers.close();
    expect(await inFlight).toMatchObject({ code: 'unreachable' });
    expect(await until(() => open.size === 0)).toBe(true);
  });
});
