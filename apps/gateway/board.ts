import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { QUEUE_NAMES } from '../../queues/names.ts';
import type { Producer } from '../../queues/producer.ts';

export const BOARD_PATH = '/admin/queues';

/** Bull Board over the five queues, behind basic auth (ADMIN_USER / ADMIN_PASSWORD). */
export function boardRoutes(producer: Producer, admin: { user: string; password: string }) {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(producer.queues[name] as never)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'agent-research-pay' } },
  });
  const app = new Hono({ strict: false });
  app.use('*', basicAuth({ username: admin.user, password: admin.password, realm: 'agent-research-pay admin' }));
  app.route('/', adapter.registerPlugin());
  return app;
}
