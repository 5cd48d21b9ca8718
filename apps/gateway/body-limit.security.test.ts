import { request } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, openHarness, type Harness } from '../../test/support/harness.ts';
import { serveApp } from '../runtime/serve.ts';

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * Bodies are bounded before they are read (issue 7, item 3): a declared Content-Length over 64 KiB is
 * refused up front, and a chunked body stops being read at the limit — 413, memory flat, never a 500.
 * Through a real HTTP server, as a client would send them.
 */
describe('request bodies are limited to 64 KiB before they are read', () => {
  let h: Harness;
  let server: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    h = await openHarness();
    server = await serveApp(h.app, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  const taskCount = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tasks`.execute(h.database.db)).rows[0]!.n);

  /**
   * Sends a POST whose body is written in 64 KiB chunks (chunked unless `contentLength` is given) until
   * the answer arrives or `total` bytes are sent; resolves with the answer, how much was sent by then,
   * and the highest RSS seen.
   */
  function send(path: string, opts: { total: number; contentLength?: number; headers?: Record<string, string>; withholdBody?: boolean }) {
    return new Promise<{ status: number; body: string; sentWhenAnswered: number; peakRss: number; ms: number }>((resolve, reject) => {
      const started = Date.now();
      let sent = 0;
      let answered = false;
      let peakRss = process.memoryUsage().rss;
      const headers: Record<string, string | number> = { 'content-type': 'application/json', ...AUTH, ...opts.headers };
      if (opts.contentLength !== undefined) headers['content-length'] = opts.contentLength;
      const req = request({ host: '127.0.0.1', port: server.port, method: 'POST', path, headers }, (res) => {
        answered = true;
        const sentWhenAnswered = sent;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode!, body, sentWhenAnswered, peakRss, ms: Date.now() - started });
        });
      });
      req.on('error', (err) => (answered ? undefined : reject(err)));
      const chunk = Buffer.alloc(64 * KIB, 0x20); // spaces: valid JSON padding, so only the size is wrong
      const pump = () => {
        while (!answered && !opts.withholdBody && sent < opts.total) {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered && !opts.withholdBody) req.end();
      };
      req.flushHeaders();
      pump();
    });
  }

  it('a declared Content-Length of 600 MB is refused at once, without waiting for the body', async () => {
    const res = await Promise.race([
      send('/v1/tasks', { total: 0, contentLength: 600 * MIB, withholdBody: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s: the server is waiting for the body')), 3_000)),
    ]);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('a chunked body of up to 128 MB is cut off at the limit: 413 before 8 MB were sent, memory flat', async () => {
    const before = await taskCount();
    const rssBefore = process.memoryUsage().rss;
    const res = await send('/v1/tasks', { total: 128 * MIB });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'payload_too_large' });
    expect(res.sentWhenAnswered).toBeLessThan(8 * MIB);
    expect(res.peakRss - rssBefore).toBeLessThan(64 * MIB);
    expect(await taskCount()).toBe(before);
  });

  it('the limit holds on every route and before authentication', async () => {
    for (const path of ['/v1/tasks/6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d/cancel', '/admin/queues/api/queues/search/add', '/nowhere']) {
      const declared = await send(path, { total: 0, contentLength: 10 * MIB, withholdBody: true, headers: { authorization: '' } });
      expect(declared.status, path).toBe(413);
      const chunked = await send(path, { total: 4 * MIB, headers: { authorization: '' } });
      expect(chunked.status, path).toBe(413);
    }
  });

  it('a body of 64 KiB is read (a task padded with spaces is created); one byte more is 413, declared or chunked', async () => {
    const json = JSON.stringify({ theme: 'padded battery makers', budget: '5.00', voiceId: 'demo-voice' });
    const fits = json + ' '.repeat(64 * KIB - json.length);
    const ok = await h.app.request('/v1/tasks', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'content-length': String(fits.length) }, body: fits });
    expect(ok.status).toBe(202);

    const over = `${fits} `;
    const declared = await h.app.request('/v1/tasks', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'content-length': String(over.length) }, body: over });
    expect(declared.status).toBe(413);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(over));
        controller.close();
      },
    });
    const chunked = await h.app.request('/v1/tasks', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
  });
});
