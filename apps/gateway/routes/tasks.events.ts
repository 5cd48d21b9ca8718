import { createRoute, z } from '@hono/zod-openapi';
import { accepts } from 'hono/accepts';
import { stream } from 'hono/streaming';
import { ApiError } from '../../../shared/errors.ts';
import type { TaskEvent } from '../../../shared/db/index.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import type { EventSink, TaskEventStreams } from '../event-streams.ts';
import { contractRoutes } from '../openapi.ts';
import { TaskIdParams } from '../schemas/common.ts';
import { TaskEventPage } from '../schemas/events.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { findTask } from './tasks.read.ts';

const POSITION_RULE = 'must be a whole number of 0 or more, in decimal digits (the `seq` of the last event you have)';
const position = z.string().regex(/^\d{1,15}$/, POSITION_RULE).optional();

const EventsQuery = z.object({
  after: position.openapi({
    param: { name: 'after', in: 'query', description: 'Replay from after this `seq` (0: from the start, the default). `Last-Event-ID` wins when both are given.' },
    example: '0',
  }),
});

const EventsHeaders = z.object({
  'Last-Event-ID': position.openapi({
    param: { name: 'Last-Event-ID', in: 'header', description: 'The `id:` of the last event received: the stream resumes right after it (what an EventSource sends when it reconnects).' },
    example: '12',
  }),
});

/** The contract of GET /v1/tasks/{id}/events. */
export const getTaskEvents = createRoute({
  method: 'get',
  path: '/tasks/{id}/events',
  operationId: 'getTaskEvents',
  tags: ['tasks'],
  summary: "Follow a task's story live (Server-Sent Events)",
  description:
    "The task's events as Server-Sent Events: `id:` is the event's `seq` (1, 2, 3… per task), `event:` its type, `data:` the event as JSON (`TaskEvent`). " +
    'What is stored after `Last-Event-ID` (or `?after=`) is replayed first, in order; then each new event as it is written, on whichever gateway it is held. ' +
    "The stream ends after the `ended` event (at once when the task has ended and you have it). A comment line (`: heartbeat`) comes every 15 s. " +
    "Event types: created, stage, searched, candidates, decision, voice_checked, token_issued, payment, foreign_charge, cancel_requested, report_ready, ended. No event carries a secret. " +
    'A browser EventSource cannot send `Authorization`: read the stream with `fetch` (the typed client does, `GatewayClient.events`). ' +
    'With `Accept: application/json` (preferred by its q-value) the stored events after the position are answered as one JSON page instead, without following.',
  request: { params: TaskIdParams, query: EventsQuery, headers: EventsHeaders },
  responses: {
    200: {
      description: 'The stream. Each event is `id: <seq>`, `event: <type>`, `data: <TaskEvent JSON>`, and a blank line.',
      headers: { 'Cache-Control': { description: '`no-cache`', schema: { type: 'string' } } },
      content: {
        'text/event-stream': {
          schema: z.string().openapi({
            description: 'Server-Sent Events; every `data:` line is a `TaskEvent` (see components.schemas.TaskEvent).',
            example: 'id: 1\nevent: created\ndata: {"seq":1,"taskId":"0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33","type":"created","at":"2026-11-29T08:00:00.000Z","data":{"status":"queued"}}\n\n',
          }),
        },
        'application/json': { schema: TaskEventPage },
      },
    },
    ...problemResponses(...V1_PROBLEMS, 'not_found', 'validation_failed'),
  },
});

/** Events a JSON page holds at most. */
const PAGE = 500;

/** One event on the wire (the `TaskEvent` schema). */
const eventJson = (e: TaskEvent) => ({ seq: e.seq, taskId: e.taskId, type: e.type as never, at: e.at.toISOString(), data: e.data as never });

/** One event as a Server-Sent Events message: `id:`, `event:`, `data:` and a blank line. */
export function sseMessage(e: TaskEvent): string {
  // JSON.stringify leaves no line break in its output, so the whole event is one data line.
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(eventJson(e))}\n\n`;
}

/**
 * GET /v1/tasks/:id/events — the task's story as Server-Sent Events, replayed from `Last-Event-ID` (or
 * `?after=`) and followed live until `ended` (apps/gateway/event-streams.ts holds the live follow).
 * Tenant-scoped like every task route: another tenant's task is a 404.
 */
export function taskEventsRoute(deps: GatewayDeps, streams: TaskEventStreams) {
  return contractRoutes<AuthEnv>().openapi(getTaskEvents, async (c) => {
    const task = await findTask(deps, c.req.valid('param').id, c.get('tenant'));
    const header = c.req.valid('header')['Last-Event-ID'];
    const given = header ?? c.req.valid('query').after;
    const from = Number(given ?? 0);
    if (from > task.event_seq) {
      const path = header !== undefined ? 'Last-Event-ID' : 'after';
      throw new ApiError('validation_failed', `${path} ${from} is past the task's last event (${task.event_seq})`, [{ path, message: `must be at most ${task.event_seq}, the task's last event` }]);
    }
    const ended = task.status === 'completed' || task.status === 'failed' || task.status === 'cancelled';
    if (accepts(c, { header: 'Accept', supports: ['text/event-stream', 'application/json'], default: 'text/event-stream' }) === 'application/json') {
      const page = await deps.repos.events.since(task.id, from, PAGE);
      return c.json({ taskId: task.id, data: page.map(eventJson), lastSeq: task.event_seq, ended }, 200);
    }
    c.header('content-type', 'text/event-stream; charset=utf-8');
    c.header('cache-control', 'no-cache');
    // Proxies that buffer answers (nginx) would hold the stream back.
    c.header('x-accel-buffering', 'no');
    return stream(c, async (out) => {
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const sink: EventSink = {
        position: from,
        deliver(events) {
          for (const e of events) {
            if (e.seq <= sink.position) continue;
            // Positions only move one at a time: a gap would mean an event not yet visible (never, as
            // a task's events commit in seq order), so wait for the next read rather than skip it.
            if (e.seq !== sink.position + 1) break;
            sink.position = e.seq;
            void out.write(sseMessage(e));
            if (e.type === 'ended') {
              finish();
              break;
            }
          }
        },
        heartbeat: () => void out.write(': heartbeat\n\n'),
        close: () => finish(),
      };
      out.onAbort(() => finish());
      c.req.raw.signal?.addEventListener('abort', () => finish(), { once: true });
      // A task that has ended and whose story the client has: nothing to send, the stream closes.
      if (ended && from >= task.event_seq) return;
      const stop = await streams.follow(task.id, sink);
      try {
        await finished;
      } finally {
        stop();
      }
    });
  });
}
