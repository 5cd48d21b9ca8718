import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { QUEUE_NAMES } from '../../queues/names.ts';
import type { Producer } from '../../queues/producer.ts';
import type { OperatorAuditRepository, OperatorContext } from '../../shared/db/operator-audit.ts';
import type { Logger } from '../../shared/log.ts';
import type { AdminEnv } from './admin-auth.ts';
import { problem } from './problem.ts';

export const BOARD_PATH = '/admin/queues';

/** One Bull Board over every queue (the five stages, the dashboard's and webhook deliveries), served at BOARD_PATH; `readOnly` hides and refuses every action. */
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

/** How much of a write's body the audit log keeps (job data carries no secrets; DESIGN §3). */
const AUDITED_BODY_CHARS = 2_000;

/** What a Bull Board write acts on, for the audit log: `PUT …/api/queues/search/retry/failed` → queue `search`. */
function boardTarget(path: string): string | null {
  const rest = path.slice(BOARD_PATH.length).replace(/^\/api\/queues\/?/, '');
  const [queue, ...more] = rest.split('/');
  if (!queue || ((queue === 'pause' || queue === 'resume') && more.length === 0)) return 'all queues';
  return decodeURIComponent(queue).slice(0, 200);
}

/** Where a Bull Board write is recorded: the operators' audit log, and who acts from where. */
export interface BoardAudit {
  audit: OperatorAuditRepository;
  who: (c: Context<AdminEnv>) => OperatorContext;
  log: Logger;
}

/**
 * Bull Board behind the admin login (`auth`, which sets the role): the read-only admin sees a board in
 * readOnlyMode, and any write from it is refused here as well (403); the operator
 * (ADMIN_OPERATOR_USER/PASSWORD) sees the board with its actions. Every operator write is recorded in
 * the operators' audit log before it reaches the queues (none is made unrecorded: if the record cannot
 * be written the write is not made), and its answer's status noted after. Mounted at BOARD_PATH.
 */
export function boardRoutes(producer: Producer, auth: MiddlewareHandler<AdminEnv>, record: BoardAudit) {
  const viewer = board(producer, true);
  const operator = board(producer, false);
  return new Hono<AdminEnv>({ strict: false })
    .use('*', auth)
    .all('*', async (c) => {
      const refused = await unreportable(c);
      if (refused) return refused;
      const role = c.get('adminRole');
      const isWrite = c.req.method !== 'GET' && c.req.method !== 'HEAD';
      if (role !== 'operator' && isWrite) {
        return problem(c, 'forbidden', 'the admin login is read-only; acting on the queues needs the operator login (ADMIN_OPERATOR_USER)');
      }
      if (!isWrite) return (role === 'operator' ? operator : viewer).fetch(c.req.raw, c.env);
      const body = c.req.raw.body ? (await c.req.raw.clone().text()).slice(0, AUDITED_BODY_CHARS) : '';
      const auditId = await record.audit.record(record.who(c), {
        action: 'queue.write',
        target: boardTarget(c.req.path),
        details: { method: c.req.method, path: c.req.path, ...(body ? { body } : {}) },
      });
      const res = await operator.fetch(c.req.raw, c.env);
      // The write is made: a failure to note its answer must not turn it into an error for the operator.
      await record.audit.setStatus(auditId, res.status).catch((err: Error) => record.log.warn({ auditId, err: err.message }, 'could not note the answer of an audited queue write'));
      return res;
    });
}
