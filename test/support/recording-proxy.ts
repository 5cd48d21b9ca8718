import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { RequestSeen, ResponseSeen } from './openapi.ts';

/** One call that went through the proxy: the request as the client sent it, the answer as the provider gave it. */
export interface Exchange {
  request: RequestSeen;
  response: ResponseSeen;
}

/** A proxy in front of a provider that records every exchange, serving on a free loopback port. */
export interface RecordingProxy {
  /** Base URL of the proxy (with the path prefix given to {@link startRecordingProxy}). */
  url: string;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

const HOP_BY_HOP = ['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive'];

/**
 * Passes every request on to `upstream` unchanged and its answer back unchanged, keeping both: a
 * client pointed at the proxy talks to the provider as before, and a test can hold each request and
 * answer to the provider's contract. Test code, not a mock.
 */
export async function startRecordingProxy(upstream: string, prefix = ''): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const base = upstream.replace(/\/+$/, '');
  const app = new Hono().all('*', async (c) => {
    const url = new URL(c.req.url);
    const path = `${url.pathname.slice(prefix.length)}${url.search}`;
    const headers = new Headers(c.req.raw.headers);
    for (const name of HOP_BY_HOP) headers.delete(name);
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.text();
    const answer = await fetch(`${base}${path}`, { method: c.req.method, headers, body });
    const text = await answer.text();
    const out = new Headers(answer.headers);
    for (const name of HOP_BY_HOP) out.delete(name);
    out.delete('content-encoding');
    exchanges.push({
      request: { method: c.req.method, url: `${prefix}${path}`, headers: new Headers(c.req.raw.headers), ...(body ? { body } : {}) },
      response: { status: answer.status, headers: out, body: text },
    });
    return new Response(text, { status: answer.status, headers: out });
  });
  const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ server: s as Server, port: info.port }));
  });
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    exchanges,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
