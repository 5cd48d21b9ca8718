import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { MAX_AGE_LIMIT } from '../../../shared/config.ts';
import { ApiError } from '../../../shared/errors.ts';
import { withTimeout } from '../../../shared/timeout.ts';
import type { CreateTaskResult } from '../../../shared/db/tasks.ts';
import type { NewTask } from '../../../shared/db/schema.ts';
import { CURRENCY, formatMoney, MAX_BUDGET_FEN } from '../../../shared/money.ts';
import type { SpendingPolicy } from '../../../shared/tenants/policy.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { legacyRequestHash, requestHash } from '../request-hash.ts';
import type { TenantRateLimit } from '../tenant-rate.ts';
import { ONE_LINE, oneLine, positiveAmount, readJson, validate } from '../validate.ts';
import { taskView } from '../view.ts';

/** The body of POST /v1/tasks. Unknown fields are rejected, so a typo is never silently ignored. */
export const createTaskBody = z.strictObject({
  theme: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  budget: positiveAmount(MAX_BUDGET_FEN),
  currency: z.literal(CURRENCY, { error: 'only CNY is supported' }).optional(),
  voiceId: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(200),
  maxCompanies: z.number().int('must be a whole number').min(1).max(20).default(5),
  /** The freshness window of records the tenant owns, in seconds (0 = always buy); unset: MEMORY_MAX_AGE. */
  maxAge: z.number().int('must be a whole number of seconds').min(0, 'must be 0 (always buy) or more').max(MAX_AGE_LIMIT, `must be at most ${MAX_AGE_LIMIT} (a year)`).optional(),
});

/** A POST waits this long for Redis at most; the task is already safe in Postgres either way. */
const ENQUEUE_TIMEOUT_MS = 2_000;

const idempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

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
  return new Hono<AuthEnv>().post('/', async (c) => {
    const tenant = c.get('tenant');
    const keyHeader = c.req.header('idempotency-key');
    const key = keyHeader === undefined ? null : validate(z.object({ 'Idempotency-Key': idempotencyKey }), { 'Idempotency-Key': keyHeader }, 'header')['Idempotency-Key'];
    const body = validate(createTaskBody, await readJson(c), 'task');
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
      status: 'queued' as const,
      stage: null,
      budget_limit: body.budget,
      token_id: null,
      error_code: null,
      error_message: null,
      ended_at: null,
    };
    const result = (await deps.repos.tasks.replayOf(row, legacyHash)) ?? (await admit(c, deps, limits, row, legacyHash));
    if (result instanceof Response) return result;
    if (result.kind === 'conflict') throw new ApiError('idempotency_conflict', `Idempotency-Key "${key}" was used with a different task`);
    const task = result.task;
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
    return c.json(taskView(task, await deps.repos.companies.list(task.id)), 202);
  });
}

/** A new submission against its tenant's policy: the task created, or the problem answer that refuses it. */
async function admit(c: Context, deps: GatewayDeps, limits: SubmissionLimits, row: NewTask, legacyHash: string | undefined): Promise<CreateTaskResult | Response> {
  const policy = await deps.repos.policies.effective(row.tenant, limits.defaults);
  const budget = formatMoney(row.budget_limit);
  if (policy.maxBudget !== null && row.budget_limit > policy.maxBudget) {
    const rule = `must be at most ${formatMoney(policy.maxBudget)} for this tenant`;
    return problem(c, 'spending_limit_exceeded', `the budget ${budget} exceeds this tenant's largest task budget, ${formatMoney(policy.maxBudget)}`, [{ path: 'budget', message: rule }]);
  }
  const rate = await limits.rate.take(row.tenant, policy.tasksPerMinute);
  if (!rate.ok) {
    c.header('Retry-After', String(rate.retryAfterSeconds));
    return problem(c, 'rate_limited', `this tenant may submit ${policy.tasksPerMinute} tasks a minute; retry in ${rate.retryAfterSeconds} s`);
  }
  const result = await deps.repos.tasks.admit(row, { openTasks: policy.openTasks, dailySpend: policy.dailySpend }, legacyHash);
  if (result.kind === 'too_many_open_tasks') {
    return problem(c, 'too_many_open_tasks', `this tenant has ${result.open} tasks queued or running, its limit is ${policy.openTasks}; submit more as they end`);
  }
  if (result.kind === 'over_daily_limit') {
    const rule = `must be at most ${formatMoney(result.remaining)}, what remains of today's limit`;
    return problem(c, 'spending_limit_exceeded', `the budget ${budget} exceeds what remains of this tenant's daily spending limit today (UTC): ${formatMoney(result.remaining)} of ${formatMoney(policy.dailySpend!)}`, [{ path: 'budget', message: rule }]);
  }
  return result;
}
