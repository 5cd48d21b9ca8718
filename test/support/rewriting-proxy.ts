import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

/** Changes a JSON answer of the provider behind the proxy; `undefined` leaves it as it was. */
export type Rewrite = (request: { method: string; path: string }, body: any) => any;

/** A proxy in front of a provider mock, serving on a free loopback port. */
export interface RewritingProxy {
  /** Base URL of the proxy (with the path prefix given to {@link startRewritingProxy}). */
  url: string;
  /** Where requests go (the provider's base URL, same path prefix); set once the provider runs. */
  setUpstream(url: string): void;
  close(): Promise<void>;
}

/**
 * A hostile provider for tests: passes every request on to the real mock behind it and rewrites the
 * JSON of its 2xx answers with `rewrite` (prices, receipts and payments stay the real mock's, so the
 * money still moves). It is test code, not a mock: the mocks in mocks/ stay independent of the product.
 */
export async function startRewritingProxy(rewrite: Rewrite, prefix = ''): Promise<RewritingProxy> {
  let upstream = '';
  const app = new Hono();
  app.all('*', async (c) => {
    if (!upstream) return c.json({ error: 'no upstream yet' }, 503);
    const url = new URL(c.req.url);
    const path = url.pathname.slice(prefix.length);
    const headers = new Headers(c.req.raw.headers);
    headers.delete('host');
    headers.delete('content-length');
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer();
    const answer = await fetch(`${upstream}${path}${url.search}`, { method: c.req.method, headers, body });
    const type = answer.headers.get('content-type') ?? '';
    if (answer.status >= 200 && answer.status < 300 && type.includes('json')) {
      const json = await answer.json();
      const changed = rewrite({ method: c.req.method, path }, json);
      return c.json(changed ?? json, answer.status as 200 | 201);
    }
    const out = new Headers();
    for (const name of ['content-type', 'retry-after', 'idempotent-replayed']) {
      const v = answer.headers.get(name);
      if (v) out.set(name, v);
    }
    return new Response(await answer.arrayBuffer(), { status: answer.status, headers: out });
  });
  const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ server: s as Server, port: info.port }));
  });
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    setUpstream: (u) => {
      upstream = u.replace(/\/+$/, '');
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
