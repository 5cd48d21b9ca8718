/**
 * A typed client of the gateway's v1 API, for the CLI, scripts and tests. Its types are the contracts'
 * own zod schemas (imported as types only: nothing of the server is loaded), so a change of a contract
 * that breaks a caller fails the type check. Errors are thrown as GatewayProblem with the answer's
 * RFC 9457 fields.
 */
import { createParser } from 'eventsource-parser';
import type { z } from 'zod';
import type { healthz, readyz, Readiness } from './routes/health.ts';
import type { CreateTaskBody, createTask } from './routes/tasks.create.ts';
import type { cancelTask } from './routes/tasks.cancel.ts';
import type { getPayments, PaymentTrail } from './routes/tasks.payments.ts';
import type { getTask, listTasks } from './routes/tasks.read.ts';
import type { getReport } from './routes/tasks.report.ts';
import type { getTaskUsage, getUsage, TaskUsage, UsageByDay } from './routes/usage.ts';
import type { getTaskEvents } from './routes/tasks.events.ts';
import type { getTaskWebhooks } from './routes/tasks.webhooks.ts';
import type { TaskEvent, TaskEventPage, WebhookDeliveries } from './schemas/events.ts';
import type { Problem } from './schemas/problem.ts';
import type { TaskList, TaskView } from './schemas/task.ts';

export type { Problem, TaskEvent, TaskEventPage, TaskList, TaskView, WebhookDeliveries };
/** The body of POST /v1/tasks as a caller writes it (`budget` a string or a number, `maxCompanies` optional). */
export type NewTask = CreateTaskBody;
export type Payments = z.infer<typeof PaymentTrail>;
export type Usage = z.infer<typeof UsageByDay>;
export type TaskUsageView = z.infer<typeof TaskUsage>;
export type ReadinessView = z.infer<typeof Readiness>;

/**
 * The paths of the operations, each checked against its contract's path: when a contract's path
 * changes, this does not compile until it is changed here too.
 */
const PATHS: {
  createTask: (typeof createTask)['path'];
  listTasks: (typeof listTasks)['path'];
  getTask: (typeof getTask)['path'];
  cancelTask: (typeof cancelTask)['path'];
  getReport: (typeof getReport)['path'];
  getPayments: (typeof getPayments)['path'];
  getTaskEvents: (typeof getTaskEvents)['path'];
  getTaskWebhooks: (typeof getTaskWebhooks)['path'];
  getTaskUsage: (typeof getTaskUsage)['path'];
  getUsage: (typeof getUsage)['path'];
  healthz: (typeof healthz)['path'];
  readyz: (typeof readyz)['path'];
} = {
  createTask: '/tasks',
  listTasks: '/tasks',
  getTask: '/tasks/{id}',
  cancelTask: '/tasks/{id}/cancel',
  getReport: '/tasks/{id}/report',
  getPayments: '/tasks/{id}/payments',
  getTaskEvents: '/tasks/{id}/events',
  getTaskWebhooks: '/tasks/{id}/webhooks',
  getTaskUsage: '/tasks/{id}/usage',
  getUsage: '/usage',
  healthz: '/healthz',
  readyz: '/readyz',
};

/** An error answer of the gateway: its status and its RFC 9457 problem. */
export class GatewayProblem extends Error {
  readonly status: number;
  readonly code: Problem['code'];
  readonly errors: NonNullable<Problem['errors']>;
  /** Seconds to wait, when the gateway said (`Retry-After` on 429 and 503). */
  readonly retryAfterSeconds?: number;

  constructor(
    readonly problem: Problem,
    retryAfter: string | null,
  ) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = 'GatewayProblem';
    this.status = problem.status;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
    if (retryAfter !== null && /^\d+$/.test(retryAfter)) this.retryAfterSeconds = Number(retryAfter);
  }
}

/** An answer the contract does not have (a proxy's error page, a gateway of another version). */
export class UnexpectedAnswer extends Error {
  constructor(
    readonly status: number,
    readonly contentType: string | null,
    readonly body: string,
  ) {
    super(`unexpected answer ${status} (${contentType ?? 'no content type'}): ${body.slice(0, 200)}`);
    this.name = 'UnexpectedAnswer';
  }
}

export interface GatewayClientOptions {
  /** Where the gateway is, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** An API key or a JWT (sent as `Authorization: Bearer`). */
  token: string;
  /** The fetch to use (default: the global one); tests pass an in-process app's `request`. */
  fetch?: (url: string, init: RequestInit) => Promise<Response> | Response;
}

interface Call {
  method: 'GET' | 'POST';
  path: string;
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  accept?: string;
  signal?: AbortSignal;
  /** Statuses that are not errors; every other answer is a GatewayProblem (or UnexpectedAnswer). */
  ok: number[];
}

/** The gateway's v1 API, typed by its contracts. */
export class GatewayClient {
  private readonly baseUrl: string;
  private readonly fetch: NonNullable<GatewayClientOptions['fetch']>;

  constructor(private readonly opts: GatewayClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetch = opts.fetch ?? ((url, init) => fetch(url, init));
  }

  /** POST /v1/tasks. `replayed` is true when the idempotency key had been used with this body: the task is the first one's. */
  async createTask(body: NewTask, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<{ task: TaskView; replayed: boolean; location: string }> {
    const res = await this.call({
      method: 'POST',
      path: `/v1${PATHS.createTask}`,
      body,
      headers: opts.idempotencyKey === undefined ? {} : { 'Idempotency-Key': opts.idempotencyKey },
      signal: opts.signal,
      ok: [202],
    });
    return { task: (await res.json()) as TaskView, replayed: res.headers.get('idempotent-replayed') === 'true', location: res.headers.get('location') ?? '' };
  }

  /** GET /v1/tasks/{id}. */
  async getTask(id: string, signal?: AbortSignal): Promise<TaskView> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getTask}`, params: { id }, signal, ok: [200] }));
  }

  /** GET /v1/tasks: one page, newest first. */
  async listTasks(query: { limit?: number; cursor?: string } = {}, signal?: AbortSignal): Promise<TaskList> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.listTasks}`, query, signal, ok: [200] }));
  }

  /** Every task of the tenant, newest first, page by page. */
  async *tasks(pageSize = 100, signal?: AbortSignal): AsyncGenerator<TaskView> {
    let cursor: string | undefined;
    do {
      const page = await this.listTasks({ limit: pageSize, ...(cursor ? { cursor } : {}) }, signal);
      yield* page.data;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** POST /v1/tasks/{id}/cancel. */
  async cancelTask(id: string, signal?: AbortSignal): Promise<TaskView> {
    return this.json(await this.call({ method: 'POST', path: `/v1${PATHS.cancelTask}`, params: { id }, signal, ok: [202] }));
  }

  /** GET /v1/tasks/{id}/report: markdown, or the sanitised HTML page. */
  async report(id: string, format: 'markdown' | 'html' = 'markdown', signal?: AbortSignal): Promise<string> {
    const accept = format === 'html' ? 'text/html' : 'text/markdown';
    return (await this.call({ method: 'GET', path: `/v1${PATHS.getReport}`, params: { id }, accept, signal, ok: [200] })).text();
  }

  /** GET /v1/tasks/{id}/payments: the audit trail. */
  async payments(id: string, signal?: AbortSignal): Promise<Payments> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getPayments}`, params: { id }, signal, ok: [200] }));
  }

  /** GET /v1/tasks/{id}/events as JSON: the stored events after `after` (at most 500), without following. */
  async taskEvents(id: string, opts: { after?: number; signal?: AbortSignal } = {}): Promise<TaskEventPage> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getTaskEvents}`, params: { id }, query: { after: opts.after }, signal: opts.signal, ok: [200] }));
  }

  /**
   * GET /v1/tasks/{id}/events as a stream: every event after `after`, in order, then each new one as it
   * is written, until `ended` (the last one yielded). A stream cut off before that (a gateway restarting,
   * the network) is opened again from the last event received (`Last-Event-ID`), up to `reconnects`
   * times in a row, `retryMs` apart; then the error is thrown. Refusals (404, 401…) throw GatewayProblem.
   */
  async *events(id: string, opts: { after?: number; signal?: AbortSignal; reconnects?: number; retryMs?: number } = {}): AsyncGenerator<TaskEvent> {
    let position = opts.after ?? 0;
    let failures = 0;
    for (;;) {
      let res: Response;
      try {
        res = await this.call({
          method: 'GET',
          path: `/v1${PATHS.getTaskEvents}`,
          params: { id },
          headers: position > 0 ? { 'Last-Event-ID': String(position) } : {},
          accept: 'text/event-stream',
          signal: opts.signal,
          ok: [200],
        });
      } catch (err) {
        if (err instanceof GatewayProblem || err instanceof UnexpectedAnswer || opts.signal?.aborted || ++failures > (opts.reconnects ?? 3)) throw err;
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 1_000));
        continue;
      }
      const queue: TaskEvent[] = [];
      const parser = createParser({
        onEvent: (message) => {
          if (message.data) queue.push(JSON.parse(message.data) as TaskEvent);
        },
      });
      const decoder = new TextDecoder();
      let cut: unknown;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          parser.feed(decoder.decode(chunk, { stream: true }));
          while (queue.length) {
            const event = queue.shift()!;
            if (event.seq <= position) continue;
            position = event.seq;
            failures = 0;
            yield event;
            if (event.type === 'ended') return;
          }
        }
      } catch (err) {
        cut = err;
      }
      // The stream ended without `ended`: the task had ended before and we have its story, or it was cut.
      if (cut === undefined) {
        const page = await this.taskEvents(id, { after: position, signal: opts.signal });
        if (page.ended && page.lastSeq <= position) return;
      }
      if (opts.signal?.aborted || ++failures > (opts.reconnects ?? 3)) throw cut ?? new Error(`the event stream of task ${id} ended before the task did`);
      await new Promise((r) => setTimeout(r, opts.retryMs ?? 1_000));
    }
  }

  /** GET /v1/tasks/{id}/webhooks: the task's webhook deliveries and every attempt. */
  async webhooks(id: string, signal?: AbortSignal): Promise<WebhookDeliveries> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getTaskWebhooks}`, params: { id }, signal, ok: [200] }));
  }

  /** GET /v1/tasks/{id}/usage. */
  async taskUsage(id: string, signal?: AbortSignal): Promise<TaskUsageView> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getTaskUsage}`, params: { id }, signal, ok: [200] }));
  }

  /** GET /v1/usage: per day. */
  async usage(signal?: AbortSignal): Promise<Usage> {
    return this.json(await this.call({ method: 'GET', path: `/v1${PATHS.getUsage}`, signal, ok: [200] }));
  }

  /** GET /healthz. */
  async health(signal?: AbortSignal): Promise<{ status: 'ok' }> {
    return this.json(await this.call({ method: 'GET', path: PATHS.healthz, signal, ok: [200] }));
  }

  /** GET /readyz: `not_ready` (503) is an answer, not an error. */
  async readiness(signal?: AbortSignal): Promise<ReadinessView> {
    return this.json(await this.call({ method: 'GET', path: PATHS.readyz, signal, ok: [200, 503] }));
  }

  private async json<T>(res: Response): Promise<T> {
    return (await res.json()) as T;
  }

  private async call(c: Call): Promise<Response> {
    const path = c.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(c.params?.[name] ?? ''));
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const url = `${this.baseUrl}${path}${query.size ? `?${query}` : ''}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.opts.token}`,
      accept: c.accept ?? 'application/json',
      ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...c.headers,
    };
    const res = await this.fetch(url, { method: c.method, headers, body: c.body === undefined ? undefined : JSON.stringify(c.body), signal: c.signal });
    if (c.ok.includes(res.status)) return res;
    const type = res.headers.get('content-type');
    const text = await res.text();
    if (type?.startsWith('application/problem+json')) {
      try {
        throw new GatewayProblem(JSON.parse(text) as Problem, res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof GatewayProblem) throw err;
      }
    }
    throw new UnexpectedAnswer(res.status, type, text);
  }
}
