import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { MAX_AGE_LIMIT } from '../../../shared/config.ts';
import { ApiError } from '../../../shared/errors.ts';
import { withTimeout } from '../../../shared/timeout.ts';
import type { CreateTaskResult } from '../../../shared/db/tasks.ts';
import type { NewTask } from '../../../shared/db/schema.ts';
import { CURRENCY, formatMoney, MAX_BUDGET_FEN } from '../../../shared/money.ts';
import type { SpendingPolicy } from '../../../shared/tenants/policy.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { legacyRequestHash, requestHash } from '../request-hash.ts';
import { BODY_PROBLEMS, problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { TaskView } from '../schemas/task.ts';
import type { TenantRateLimit } from '../tenant-rate.ts';
import { noteTask } from '../observe.ts';
import { WebhookAllowList } from '../../../shared/webhooks/allow-list.ts';
import { urlRefusal } from '../../../shared/webhooks/send.ts';
import { jsonBody, ONE_LINE, oneLine, positiveAmount } from '../validate.ts';
import { taskView } from '../view.ts';

/** The body of POST /v1/tasks. Unknown fields are rejected, so a typo is never silently ignored. */
export const CreateTaskBody = z
  .strictObject({
    theme: z
      .string()
      .refine(oneLine, ONE_LINE)
      .trim()
      .min(1, 'must not be empty')
      .max(500, 'must be at most 500 characters')
      .openapi({ description: `The research theme: 1–500 characters once trimmed; ${ONE_LINE}.`, example: 'solid-state battery makers' }),
    budget: positiveAmount(MAX_BUDGET_FEN).openapi({
      description: 'The budget in CNY: a decimal string or a JSON number, greater than 0, at most 100000.00, at most two decimals (`12.5` is fine, `0.30000000000000004` is not).',
      example: '50.00',
    }),
    currency: z.literal(CURRENCY, { error: 'only CNY is supported' }).optional().openapi({ description: 'Only CNY.' }),
    voiceId: z
      .string()
      .refine(oneLine, ONE_LINE)
      .trim()
      .min(1, 'must not be empty')
      .max(200)
      .openapi({ description: "The voice the tenant's consent is checked with, for this task and this budget.", example: 'demo-voice' }),
    maxCompanies: z.number().int('must be a whole number').min(1).max(20).default(5).openapi({ description: 'How many records the agent may buy at most.' }),
    maxAge: z
      .number()
      .int('must be a whole number of seconds')
      .min(0, 'must be 0 (always buy) or more')
      .max(MAX_AGE_LIMIT, `must be at most ${MAX_AGE_LIMIT} (a year)`)
      .optional()
      .openapi({ description: 'How old, in seconds, a record the tenant already owns may be to be used instead of buying it again (0 = always buy); unset: MEMORY_MAX_AGE.', example: 604800 }),
    webhookUrl: z
      .string()
      .max(2_000, 'must be at most 2000 characters')
      .refine((u) => URL.canParse(u), 'must be an absolute http or https URL')
      .optional()
      .openapi({
        description:
          "Where the task's final view is POSTed when it ends, signed with `X-Signature` (see `GET /v1/tasks/{id}/webhooks`). Its host must be in the gateway's WEBHOOK_ALLOWED_HOSTS (else 400 naming `webhookUrl`); it joins the idempotency hash like every field.",
        example: 'https://hooks.example.com/arp',
      }),
  })
  .openapi('CreateTask');
export type CreateTaskBody = z.input<typeof CreateTaskBody>;

/** A POST waits this long for Redis at most; the task is already safe in Postgres either way. */
const ENQUEUE_TIMEOUT_MS = 2_000;

const CreateTaskHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .openapi({
      param: { name: 'Idempotency-Key', in: 'header', description: 'Makes a retry safe: the same key and body answer the same task (`Idempotent-Replayed: true`); the same key with another body is 422 `idempotency_conflict`. 1–200 printable ASCII characters, no spaces.' },
      example: 'order-42',
    }),
});

/** The contract of POST /v1/tasks. */
export const createTask = createRoute({
  method: 'post',
  path: '/tasks',
  operationId: 'createTask',
  tags: ['tasks'],
  summary: 'Submit a research task',
  description:
    "Stores the task and queues its search. Within the tenant's spending policy: a budget over the largest task budget or over what remains of the day's limit is 422 `spending_limit_exceeded`; more submissions a minute than allowed is 429 `rate_limited` (with `Retry-After`); too many tasks queued or running is 429 `too_many_open_tasks`. A replay of an idempotency key is answered before any of these.",
  middleware: [jsonBody] as const,
  request: {
    headers: CreateTaskHeaders,
    body: { required: true, content: { 'application/json': { schema: CreateTaskBody, example: { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' } } } },
  },
  responses: {
    202: {
      description: 'The task, queued (or, for a replayed idempotency key, as it is now).',
      headers: {
        Location: { description: 'Where the task is: `/v1/tasks/{id}`.', schema: { type: 'string' } },
        'Idempotent-Replayed': { description: '`true` when this answers a replay of an idempotency key.', schema: { type: 'string', enum: ['true'] } },
      },
      content: { 'application/json': { schema: TaskView } },
    },
    ...problemResponses(...V1_PROBLEMS, ...BODY_PROBLEMS, 'idempotency_conflict', 'spending_limit_exceeded', 'too_many_open_tasks'),
  },
});

/** What the route holds submissions to: the tenant submission counter and the policy defaults. */
export interface SubmissionLimits {
  rate: TenantRateLimit;
  defaults: SpendingPolicy;
}

/**
 * POST /v1/tasks: stores the task in Postgres, then queues its search. 202 + Location. A submission
 * passes its tenant's spending policy first (issue 8): a budget over `maxBudget` or over what remains
 * of the day's `dailySpend` is 422 spending_limit_exceeded, more than `tasksPerMinute` is 429
 * rate_limited with Retry-After, more than `openTasks` queued or running is 429 too_many_open_tasks.
 * A replay of an idempotency key already used is answered before any of these: it submits nothing.
 */
export function createTaskRoute(deps: GatewayDeps, limits: SubmissionLimits) {
  const webhookHosts = new WebhookAllowList(deps.config.WEBHOOK_ALLOWED_HOSTS ?? []);
  return contractRoutes<AuthEnv>().openapi(createTask, async (c) => {
    const tenant = c.get('tenant');
    const key = c.req.valid('header')['Idempotency-Key'] ?? null;
    const body = c.req.valid('json');
    const refusal = body.webhookUrl === undefined ? undefined : urlRefusal(body.webhookUrl, webhookHosts);
    if (refusal) throw new ApiError('validation_failed', `the body is not valid: webhookUrl: ${refusal}`, [{ path: 'webhookUrl', message: refusal }]);
    // The whole validated body, defaults applied, is the request an idempotency key stands for.
    const hash = requestHash({ ...body, currency: body.currency ?? CURRENCY });
    const legacyHash = legacyRequestHash(body);
    const row = {
      id: randomUUID(),
      tenant,
      idempotency_key: key,
      request_hash: hash,
      theme: body.theme,
      voice_id: body.voiceId,
      currency: CURRENCY,
      max_companies: body.maxCompanies,
      max_age_seconds: body.maxAge ?? null,
      webhook_url: body.webhookUrl ?? null,
      status: 'queued' as const,
      stage: null,
      budget_limit: body.budget,
      token_id: null,
      error_code: null,
      error_message: null,
      ended_at: null,
    };
    const result = (await deps.repos.tasks.replayOf(row, legacyHash)) ?? (await admit(c, deps, limits, row, legacyHash));
    if (result.kind === 'conflict') throw new ApiError('idempotency_conflict', `Idempotency-Key "${key}" was used with a different task`);
    const task = result.task;
    noteTask(c, task.id, { tenant, budget: formatMoney(task.budget_limit) });
    if (result.kind === 'created' || task.status === 'queued') {
      try {
        await withTimeout(ENQUEUE_TIMEOUT_MS, deps.producer.search(task.id), 'Redis');
      } catch (err) {
        // The task is safe in Postgres; the sweeper queues it once Redis answers again.
        deps.log.warn({ taskId: task.id, err: (err as Error).message }, 'could not queue the search yet; the sweeper will');
      }
    }
    c.header('Location', `/v1/tasks/${task.id}`);
    if (result.kind === 'replayed') c.header('Idempotent-Replayed', 'true');
    // A task created just now has found nothing yet; a replayed one may have.
    return c.json(taskView(task, result.kind === 'created' ? [] : await deps.repos.companies.list(task.id)), 202);
  });
}

/** A new submission against its tenant's policy: the task created, or the ApiError that refuses it. */
async function admit(c: Context, deps: GatewayDeps, limits: SubmissionLimits, row: NewTask, legacyHash: string | undefined): Promise<CreateTaskResult> {
  const policy = await deps.repos.policies.effective(row.tenant, limits.defaults);
  const budget = formatMoney(row.budget_limit);
  if (policy.maxBudget !== null && row.budget_limit > policy.maxBudget) {
    const rule = `must be at most ${formatMoney(policy.maxBudget)} for this tenant`;
    throw new ApiError('spending_limit_exceeded', `the budget ${budget} exceeds this tenant's largest task budget, ${formatMoney(policy.maxBudget)}`, [{ path: 'budget', message: rule }]);
  }
  const rate = await limits.rate.take(row.tenant, policy.tasksPerMinute);
  if (!rate.ok) {
    c.header('Retry-After', String(rate.retryAfterSeconds));
    throw new ApiError('rate_limited', `this tenant may submit ${policy.tasksPerMinute} tasks a minute; retry in ${rate.retryAfterSeconds} s`);
  }
  const result = await deps.repos.tasks.admit(row, { openTasks: policy.openTasks, dailySpend: policy.dailySpend }, legacyHash);
  if (result.kind === 'too_many_open_tasks') {
    throw new ApiError('too_many_open_tasks', `this tenant has ${result.open} tasks queued or running, its limit is ${policy.openTasks}; submit more as they end`);
  }
  if (result.kind === 'over_daily_limit') {
    const rule = `must be at most ${formatMoney(result.remaining)}, what remains of today's limit`;
    throw new ApiError('spending_limit_exceeded', `the budget ${budget} exceeds what remains of this tenant's daily spending limit today (UTC): ${formatMoney(result.remaining)} of ${formatMoney(policy.dailySpend!)}`, [{ path: 'budget', message: rule }]);
  }
  return result;
}
