import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

/** Serves a Hono app; resolves once it listens, with a close that cuts idle keep-alive connections. */
export function serveApp(app: Hono, port: number, host: string): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
      server.off('error', reject);
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).closeIdleConnections?.();
            server.close(() => done());
            setTimeout(() => {
              (server as Server).closeAllConnections?.();
            }, 1_000).unref();
          }),
      });
    }) as Server;
    server.once('error', reject);
  });
}
