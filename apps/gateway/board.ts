import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
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
 * Bull Board 9.10 cannot report a bad value holding NUL: its validation messages carry the value, it
 * splits them at NUL, and the JSON.parse of the rest throws — a 500 for a client error. Such values
 * (control characters in a query value; NUL in a body) are refused here with a 400 naming the field.
 */
async function unreportable(c: Context): Promise<Response | undefined> {
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.some((v) => /[\u0000-\u001f\u007f]/.test(v))) return problem(c, 'validation_failed', `the query parameter ${name} holds a control character`, [{ path: name, message: 'must not hold control characters' }]);
  }
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.req.raw.body) {
    const text = await c.req.raw.clone().text(); // at most 64 KiB: the app's body limit ran first
    if (/\u0000|\\u0000/i.test(text)) return problem(c, 'validation_failed', 'the body holds a NUL character', [{ path: '(root)', message: 'must not hold NUL characters' }]);
  }
  return undefined;
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
      const refused = await unreportable(c);
      if (refused) return refused;
      const role = c.get('adminRole');
      if (role !== 'operator' && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        return problem(c, 'forbidden', 'the admin login is read-only; acting on the queues needs the operator login (ADMIN_OPERATOR_USER)');
      }
      return (role === 'operator' ? operator : viewer).fetch(c.req.raw, c.env);
    });
}
