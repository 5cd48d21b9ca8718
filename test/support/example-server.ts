import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { MatchedOperation, OpenApiContract } from './openapi.ts';

/** Which documented status to answer a request with; the lowest 2xx with an example when absent. */
export type PickStatus = (op: MatchedOperation, req: Request) => number | undefined;

/** A provider made of its contract alone, serving on a free loopback port. */
export interface ExampleServer {
  url: string;
  /** `METHOD /template → status` of every answer given. */
  readonly answered: string[];
  close(): Promise<void>;
}

/**
 * A provider that answers every documented operation with its contract's own example for the status
 * chosen — nothing but what the contract publishes. A client that works against it relies on the
 * contract, not on what one implementation happens to send. Undocumented calls are 501.
 */
export async function startExampleServer(contract: OpenApiContract, pick: PickStatus = () => undefined): Promise<ExampleServer> {
  const answered: string[] = [];
  const app = new Hono().all('*', (c) => {
    const op = contract.match(c.req.method, new URL(c.req.url).pathname);
    if (!op) return c.text(`not in ${contract.name}`, 501);
    const responses = op.operation.responses as Record<string, any>;
    const withExample = (status: string) => {
      const media = contract.resolveNode(responses[status])?.content?.['application/json'];
      return media && ('example' in media || media.examples) ? media : undefined;
    };
    const chosen = pick(op, c.req.raw);
    const status = chosen !== undefined ? String(chosen) : Object.keys(responses).filter((s) => /^2\d\d$/.test(s) && withExample(s)).sort()[0];
    const media = status === undefined ? undefined : withExample(status);
    if (!status || !media) throw new Error(`${contract.name}: ${op.method.toUpperCase()} ${op.template} has no example for ${status ?? 'a 2xx'}`);
    answered.push(`${op.method.toUpperCase()} ${op.template} → ${status}`);
    const example = 'example' in media ? media.example : contract.resolveNode(Object.values<any>(media.examples)[0]).value;
    return c.json(example, Number(status) as 200);
  });
  const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ server: s as Server, port: info.port }));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    answered,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
