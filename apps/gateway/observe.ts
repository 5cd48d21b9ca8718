import { context, propagation, trace, type TextMapGetter } from '@opentelemetry/api';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { annotate, ATTR, SpanKind, SpanStatusCode, tracer, tracingOn } from '../../shared/telemetry/tracing.ts';

/** Probes and scrapes come every few seconds and say nothing about a task: no span for them. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/**
 * When tracing, each request runs in a server span named by its route template — a child of the
 * caller's `traceparent` when one is sent, else the root of a new trace (a task's trace starts at its
 * POST). The span carries the method, the route template and the status: never the path or query (ids
 * of other things may be in them), a header or a body. With tracing off this is a plain `next()`.
 */
export function requestSpan(): MiddlewareHandler {
  return async (c, next) => {
    if (!tracingOn() || UNTRACED.has(c.req.path)) return next();
    const parent = propagation.extract(context.active(), c.req.raw.headers, headerGetter);
    const span = tracer.startSpan(c.req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': c.req.method } }, parent);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routePath(c, -1) || 'unmatched';
      span.updateName(`${c.req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': c.res.status });
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}

/** The task a request concerns, once a route knows it: for its log lines (the access log). */
const TASK_OF = new WeakMap<Request, string>();

/** The task id of the request, when it concerns one. */
export function taskOf(c: Context): string | undefined {
  return TASK_OF.get(c.req.raw);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** On `/v1/tasks/:id…`: the task id on the request's log lines and span (an id that is no UUID is not one). */
export function taskScope(): MiddlewareHandler {
  return async (c, next) => {
    const id = c.req.param('id');
    if (id && UUID.test(id)) noteTask(c, id);
    await next();
  };
}

/** The request concerns this task, from here on: its log lines and its span say so. */
export function noteTask(c: Context, taskId: string, more: { tenant?: string; budget?: string } = {}): void {
  TASK_OF.set(c.req.raw, taskId);
  annotate({ [ATTR.taskId]: taskId, ...(more.tenant ? { [ATTR.tenant]: more.tenant } : {}), ...(more.budget ? { 'arp.task.budget': more.budget, [ATTR.moneyCurrency]: 'CNY' } : {}) });
}
