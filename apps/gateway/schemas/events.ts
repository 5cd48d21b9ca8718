import { z } from '@hono/zod-openapi';
import { Money, Timestamp } from './common.ts';
import { Stage, TaskError } from './task.ts';

const ModelOrRules = z.enum(['model', 'rules']);

/** What each type of event says (shared/db/events.ts `TaskEventData`); never a secret. */
export const EVENT_DATA = {
  created: z.strictObject({ status: z.literal('queued') }),
  stage: z.strictObject({ stage: Stage.unwrap() }),
  searched: z.strictObject({
    queries: z.array(z.string()),
    plannedBy: ModelOrRules,
    decidedBy: ModelOrRules,
    found: z.number().int().min(0),
    chosen: z.number().int().min(0),
    owned: z.number().int().min(0),
    cachedSearches: z.number().int().min(0),
    clipped: z.number().int().min(0),
  }),
  candidates: z.strictObject({ count: z.number().int().min(0), chosen: z.number().int().min(0) }),
  decision: z.strictObject({ companyId: z.string(), name: z.string(), action: z.enum(['buy', 'skip']), reason: z.string(), by: ModelOrRules, price: Money }),
  voice_checked: z.strictObject({ verified: z.boolean(), score: z.number().nullable(), mismatch: z.array(z.string()).optional() }),
  token_issued: z.strictObject({ limit: Money, expiresAt: Timestamp }),
  payment: z.strictObject({ companyId: z.string(), movement: z.enum(['reserve', 'capture', 'release', 'refund']), amount: Money }),
  foreign_charge: z.strictObject({ total: Money, charges: z.array(z.strictObject({ chargeId: z.string(), amount: Money })) }),
  cancel_requested: z.strictObject({}),
  report_ready: z.strictObject({ writer: z.string() }),
  ended: z.strictObject({ status: z.enum(['completed', 'failed', 'cancelled']), error: TaskError.extend({ message: z.string() }).optional() }),
} as const;

export type TaskEventTypeName = keyof typeof EVENT_DATA;

const DESCRIPTIONS: Record<TaskEventTypeName, string> = {
  created: 'The task was stored (always the first event, `seq` 1).',
  stage: 'The task entered a stage.',
  searched: 'The free searches ran: what was searched and how many were found and chosen.',
  candidates: 'How many candidates the search found, and how many were chosen to buy.',
  decision: 'What the agent decided about one company, and why: one per candidate in ranking order; a chosen company that was not bought in the end (over budget, price changed, task ended…) gets a second, `skip`, with the reason.',
  voice_checked: "The tenant's voice was checked for this task and amount.",
  token_issued: 'A budget-limited payment token was issued: its limit and expiry (never its id).',
  payment: 'A movement of the task\'s money, written in the same transaction as its ledger row.',
  foreign_charge: 'Charges on the task\'s token that we did not make (found when its money was closed).',
  cancel_requested: 'A cancel was asked for.',
  report_ready: 'The report is written (`GET /v1/tasks/{id}/report`).',
  ended: 'The task ended (always the last event): the stream closes after it.',
};

/** One event of a task's story, as each `data:` line of the stream carries it. */
export const TaskEvent = z
  .discriminatedUnion(
    'type',
    (Object.keys(EVENT_DATA) as TaskEventTypeName[]).map((type) =>
      z
        .strictObject({
          seq: z.number().int().min(1).openapi({ description: "The event's place in the task's story (1, 2, 3…); the stream's `id:`." }),
          taskId: z.uuid(),
          type: z.literal(type),
          at: Timestamp,
          data: EVENT_DATA[type],
        })
        .openapi(`TaskEvent_${type}`, { description: DESCRIPTIONS[type] }),
    ) as unknown as [z.ZodObject, ...z.ZodObject[]],
  )
  .openapi('TaskEvent', { description: 'One event of a task\'s story; the stream sends it as `id: <seq>`, `event: <type>`, `data: <this JSON>`.' });
export type TaskEvent = { seq: number; taskId: string; type: TaskEventTypeName; at: string; data: Record<string, unknown> };

/** The stored events of a task after a position, as JSON (`Accept: application/json`): no live follow. */
export const TaskEventPage = z
  .strictObject({
    taskId: z.uuid(),
    data: z.array(TaskEvent).openapi({ description: 'The events after `after` (or `Last-Event-ID`), in order, at most 500.' }),
    lastSeq: z.number().int().min(0).openapi({ description: "The task's last event so far: ask again with `after` = the last `seq` you got while it is behind." }),
    ended: z.boolean().openapi({ description: 'The task has ended: `lastSeq` is its `ended` event and nothing follows.' }),
  })
  .openapi('TaskEventPage');
export type TaskEventPage = { taskId: string; data: TaskEvent[]; lastSeq: number; ended: boolean };

/** One attempt at delivering a webhook. */
export const WebhookAttempt = z
  .strictObject({
    attempt: z.number().int().min(1),
    at: Timestamp,
    status: z.number().int().nullable().openapi({ description: "The receiver's HTTP status; null when it was not reached." }),
    error: z.string().nullable().openapi({ description: 'Why the attempt did not count as delivered.' }),
    durationMs: z.number().int().min(0),
  })
  .openapi('WebhookAttempt');

/** A task's webhook delivery: the task's end announced to its `webhookUrl`. */
export const WebhookDelivery = z
  .strictObject({
    id: z.string(),
    event: z.literal('task.ended'),
    url: z.string().openapi({ description: 'The `webhookUrl` the task was submitted with.' }),
    state: z.enum(['pending', 'delivered', 'failed']).openapi({ description: '`pending` while it is being tried (with backoff, for WEBHOOK_RETRY_WINDOW — a day by default); `delivered` once the receiver answered 2xx; `failed` when the window is over or the address is refused.' }),
    attempts: z.number().int().min(0),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: Timestamp,
    deliveredAt: Timestamp.optional(),
    history: z.array(WebhookAttempt),
  })
  .openapi('WebhookDelivery');

export const WebhookDeliveries = z.strictObject({ taskId: z.uuid(), data: z.array(WebhookDelivery) }).openapi('WebhookDeliveries');
export type WebhookDeliveries = z.infer<typeof WebhookDeliveries>;
