import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../errors.ts';
import { pipelineRegistry } from '../telemetry/metrics.ts';
import { failure, request, retryAfterMs } from './http.ts';
import { PROVIDER_LIMITS } from './limits.ts';

/** A provider that answers from a script: each request takes the next status (the last one repeats). */
let server: Server;
let base: string;
let script: Array<{ status: number; headers?: Record<string, string> }> = [];
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const step = script[Math.min(hits, script.length - 1)]!;
    hits++;
    res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
    res.end(JSON.stringify({ error: { code: `s${step.status}` } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function play(...steps: Array<{ status: number; headers?: Record<string, string> }>) {
  script = steps;
  hits = 0;
}

describe('provider HTTP calls', () => {
  it('retries a read through a passing 503 and 429 (honouring Retry-After) and returns the answer', async () => {
    play({ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 200 });
    const answer = await request(`${base}/x`, { provider: 'issuer', route: 'GET /x', timeoutMs: 1_000 });
    expect(answer.status).toBe(200);
    expect(hits).toBe(3);
  });

  it('hands back the last answer when a read keeps failing, for the caller to word', async () => {
    play({ status: 503 });
    const answer = await request(`${base}/x`, { provider: 'issuer', route: 'GET /x', timeoutMs: 1_000 });
    expect(answer.status).toBe(503);
    expect(hits).toBe(3);
    expect(failure(answer, 's503', 'read')).toBeInstanceOf(TransientError);
  });

  it('never repeats a write: a pay or charge call is retried only by its job, with its idempotency key', async () => {
    play({ status: 503 }, { status: 200 });
    const answer = await request(`${base}/pay`, { provider: 'issuer', route: 'POST /pay', method: 'POST', json: {}, timeoutMs: 1_000 });
    expect(answer.status).toBe(503);
    expect(hits).toBe(1);
  });

  it("does not retry a 4xx: it is the provider's final word", async () => {
    play({ status: 404 }, { status: 200 });
    const answer = await request(`${base}/x`, { provider: 'issuer', route: 'GET /x', timeoutMs: 1_000 });
    expect(answer.status).toBe(404);
    expect(hits).toBe(1);
    expect(failure(answer, 'not_found', 'read')).toBeInstanceOf(PermanentError);
  });

  it('reads Retry-After in seconds or as a date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3_000);
    const at = new Date(Date.now() + 5_000).toUTCString();
    expect(retryAfterMs(new Headers({ 'retry-after': at }))).toBeGreaterThan(3_000);
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it('reports an unreachable provider as transient', async () => {
    await expect(request('http://127.0.0.1:1/x', { provider: 'issuer', route: 'POST /x', method: 'POST', timeoutMs: 500 })).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('names the route template in every error, never the URL (a URL may carry a credential)', async () => {
    const secretPath = '/v1/tokens/tok_SECRET123/close';
    const route = 'POST /v1/tokens/:id/close';
    const unreachable = await request(`http://127.0.0.1:1${secretPath}`, { provider: 'issuer', route, method: 'POST', timeoutMs: 500 }).catch((e: Error) => e);
    const hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const timedOut = await request(`http://127.0.0.1:${(hang.address() as { port: number }).port}${secretPath}`, { provider: 'issuer', route, method: 'POST', timeoutMs: 200 }).catch((e: Error) => e);
    hang.closeAllConnections();
    await new Promise<void>((r) => hang.close(() => r()));
    play({ status: 503 });
    const answer = await request(`${base}${secretPath}?x=1`, { provider: 'issuer', route: 'GET /v1/tokens/:id', timeoutMs: 1_000 });
    const worded = failure(answer, 's503', 'GET /v1/tokens/:id');
    for (const err of [unreachable, timedOut, worded] as Error[]) {
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(/\/v1\/tokens\/:id/);
      expect(`${err.message} ${err.stack}`).not.toContain('tok_SECRET123');
    }
    expect((timedOut as TransientError).code).toBe('timeout');
  });

  it('reads the body once as JSON; an empty, non-JSON or broken-off body is `undefined`, not an error, and the status stands', async () => {
    const plain = createServer((req, res) => {
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url === '/html') return res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
      if (req.url === '/cut') return void res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }).write('{"data":', () => res.destroy());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'co_1' }] }));
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    const at = `http://127.0.0.1:${(plain.address() as { port: number }).port}`;
    try {
      expect(await request(`${at}/json`, { provider: 'issuer', route: 'GET /json', timeoutMs: 1_000 })).toMatchObject({ status: 200, body: { data: [{ id: 'co_1' }] } });
      expect(await request(`${at}/empty`, { provider: 'issuer', route: 'POST /empty', method: 'POST', timeoutMs: 1_000 })).toMatchObject({ status: 204, body: undefined });
      const html = await request(`${at}/html`, { provider: 'issuer', route: 'POST /html', method: 'POST', json: {}, timeoutMs: 1_000 });
      expect(html).toMatchObject({ status: 502, body: undefined });
      expect(html.headers.get('Content-Type')).toBe('text/html');
      expect(failure(html, undefined, 'POST /html')).toMatchObject({ code: 'http_502' });
      // A body that breaks off: the status came, so it is an answer, with no body.
      expect(await request(`${at}/cut`, { provider: 'issuer', route: 'POST /cut', method: 'POST', timeoutMs: 1_000 })).toMatchObject({ status: 200, body: undefined });
    } finally {
      plain.closeAllConnections();
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  it('reads at most PROVIDER_LIMITS.answerBytes of an answer: a longer body is cut there (the connection closed); the status stands, with no body', async () => {
    // One JSON string half as long again as the limit: valid JSON, which only the limit keeps us from reading.
    const body = Buffer.concat([Buffer.from('{"data":"'), Buffer.alloc(PROVIDER_LIMITS.answerBytes * 1.5, 0x20), Buffer.from('"}')]);
    const endless = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((r) => endless.listen(0, '127.0.0.1', () => r()));
    const at = `http://127.0.0.1:${(endless.address() as { port: number }).port}`;
    try {
      const answer = await request(`${at}/company/basic`, { provider: 'marketplace', route: 'GET /company/basic', timeoutMs: 10_000 });
      expect(answer.status).toBe(200);
      // (Not compared as a value: a failure would print megabytes.)
      expect(answer.body === undefined, 'the over-long body was read and parsed').toBe(true);
      expect(answer.overLimit).toBe(PROVIDER_LIMITS.answerBytes);
      // A call that expects a longer answer (the audit's listing) says how long it may be.
      const longer = await request(`${at}/v1/tokens`, { provider: 'issuer', route: 'GET /v1/tokens', timeoutMs: 10_000, maxBytes: PROVIDER_LIMITS.answerBytes * 2 });
      expect(typeof longer.body?.data === 'string' && longer.body.data.length === PROVIDER_LIMITS.answerBytes * 1.5, 'the body within maxBytes was not read whole').toBe(true);
      expect(longer.overLimit).toBeUndefined();
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((r) => endless.close(() => r()));
    }
  });

  it("stops at the caller's signal (a shutdown), long before the time limit: a write as a timeout (it may have landed), a read with the signal's reason", async () => {
    let received = 0;
    const hang = createServer(() => void received++);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const at = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
    try {
      const shutdown = new AbortController();
      const started = performance.now();
      const write = request(`${at}/pay`, { provider: 'marketplace', route: 'POST /pay', method: 'POST', json: {}, timeoutMs: 10_000, signal: shutdown.signal }).catch((e: Error) => e);
      const read = request(`${at}/x`, { provider: 'marketplace', route: 'GET /x', timeoutMs: 10_000, signal: shutdown.signal }).catch((e: Error) => e);
      setTimeout(() => shutdown.abort(new Error('shutting down')), 100);
      const [w, r] = await Promise.all([write, read]);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(w).toBeInstanceOf(TransientError);
      expect(w).toMatchObject({ code: 'timeout' });
      expect((r as Error).message).toBe('shutting down');
      // Already stopped: nothing is sent.
      expect(received).toBe(2);
      await expect(request(`${at}/x`, { provider: 'marketplace', route: 'GET /x', timeoutMs: 10_000, signal: shutdown.signal })).rejects.toThrow('shutting down');
      await expect(request(`${at}/pay`, { provider: 'marketplace', route: 'POST /pay', method: 'POST', json: {}, timeoutMs: 10_000, signal: shutdown.signal })).rejects.toMatchObject({ code: 'timeout' });
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toBe(2);
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });

  it('measures every try by provider and operation, and counts failures by the provider\'s code (an expected status is no failure)', async () => {
    const before = await providerFigures('GET /measured');
    play({ status: 503 }, { status: 200 });
    await request(`${base}/measured`, { provider: 'marketplace', route: 'marketplace GET /measured', timeoutMs: 1_000 });
    play({ status: 402 });
    await request(`${base}/measured`, { provider: 'marketplace', route: 'marketplace GET /measured', timeoutMs: 1_000, expect: [402] });
    play({ status: 404 });
    await request(`${base}/measured`, { provider: 'marketplace', route: 'marketplace GET /measured', timeoutMs: 1_000 });
    await request('http://127.0.0.1:1/measured', { provider: 'marketplace', route: 'marketplace GET /measured', method: 'POST', timeoutMs: 500 }).catch(() => undefined);
    const after = await providerFigures('GET /measured');
    expect(after.calls - before.calls).toBe(5);
    expect(after.errors).toEqual({ ...before.errors, s503: (before.errors.s503 ?? 0) + 1, s404: (before.errors.s404 ?? 0) + 1, unreachable: (before.errors.unreachable ?? 0) + 1 });
  });
});

/** How many calls of one marketplace operation were timed, and its errors by code. */
async function providerFigures(operation: string) {
  const latency = await pipelineRegistry.getSingleMetric('arp_provider_request_duration_seconds')!.get();
  const errors = await pipelineRegistry.getSingleMetric('arp_provider_errors_total')!.get();
  const mine = (labels: Record<string, unknown>) => labels.provider === 'marketplace' && labels.operation === operation;
  const calls = latency.values.find((v) => (v as { metricName?: string }).metricName === 'arp_provider_request_duration_seconds_count' && mine(v.labels))?.value ?? 0;
  return { calls, errors: Object.fromEntries(errors.values.filter((v) => mine(v.labels)).map((v) => [String(v.labels.code), v.value])) as Record<string, number> };
}
