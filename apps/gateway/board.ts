import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import { QUEUE_NAMES } from '../../queues/names.ts';
import type { Producer } from '../../queues/producer.ts';
import type { AdminEnv } from './admin-auth.ts';
import { problem } from './problem.ts';

export const BOARD_PATH = '/admin/queues';

/** One Bull Board over the five queues, served at BOARD_PATH; `readOnly` hides and refuses every action. */
function board(producer: Producer, readOnly: boolean): Hono {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(producer.queues[name] as never, { readOnlyMode: readOnly })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: readOnly ? 'agent-research-pay (read-only)' : 'agent-research-pay (operator)' } },
  });
  const app = new Hono({ strict: false }).basePath(BOARD_PATH);
  app.route('/', adapter.registerPlugin());
  // Let a failure inside the board reach the gateway's error handler (a problem+json answer).
  app.onError((err) => {
    throw err;
  });
  return app;
}

/**
 * Bull Board behind the admin login (`auth`, which sets the role): the read-only admin sees a board in
 * readOnlyMode, and any write from it is refused here as well (403); the operator
 * (ADMIN_OPERATOR_USER/PASSWORD) sees the board with its actions. Mounted at BOARD_PATH.
 */
export function boardRoutes(producer: Producer, auth: MiddlewareHandler<AdminEnv>) {
  const viewer = board(producer, true);
  const operator = board(producer, false);
  return new Hono<AdminEnv>({ strict: false })
    .use('*', auth)
    .all('*', async (c) => {
      const role = c.get('adminRole');
      if (role !== 'operator' && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        return problem(c, 'forbidden', 'the admin login is read-only; acting on the queues needs the operator login (ADMIN_OPERATOR_USER)');
      }
      return (role === 'operator' ? operator : viewer).fetch(c.req.raw, c.env);
    });
}
