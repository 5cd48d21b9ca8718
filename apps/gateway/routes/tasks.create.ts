import { createHash, randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../../shared/errors.ts';
import { withTimeout } from '../../../shared/timeout.ts';
import { CURRENCY, MAX_BUDGET_FEN, MoneyFormatError, parseMoney } from '../../../shared/money.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { readJson, validate } from '../validate.ts';
import { taskView } from '../view.ts';

/** The budget: a decimal string or a JSON number, > 0, ≤ 100000.00, at most two decimals → fen. */
const budget = z.union([z.string(), z.number()], { error: 'must be a decimal string like "50.00" or a number' }).transform((value, ctx) => {
  try {
    const fen = parseMoney(value);
    if (fen <= 0) ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
    else if (fen > MAX_BUDGET_FEN) ctx.addIssue({ code: 'custom', message: 'must be at most 100000.00' });
    return fen;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof MoneyFormatError ? err.message : 'is not an amount' });
    return z.NEVER;
  }
});

/**
 * A theme or voice id is one line of visible text: no control characters (C0 with tab, CR and LF; DEL;
 * C1), no Unicode line or paragraph separator, and no format character (Unicode category Cf): bidi
 * overrides, embeddings, isolates and marks make text read other than it is, and zero-width spaces,
 * joiners and the BOM hide text or make two themes that look the same differ. (Cf also holds the
 * zero-width joiner of emoji sequences such as 👩‍🔬 — a research theme does without.) Postgres text cannot
 * hold NUL either. Checked before trimming, so a trailing line break is refused too.
 */
const oneLine = (s: string) => !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(s);
const ONE_LINE = 'must be one line of visible text: no line breaks, tabs, control characters, bidi controls or zero-width characters';

/** The body of POST /v1/tasks. Unknown fields are rejected, so a typo is never silently ignored. */
export const createTaskBody = z.strictObject({
  theme: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  budget,
  currency: z.literal(CURRENCY, { error: 'only CNY is supported' }).optional(),
  voiceId: z.string().refine(oneLine, ONE_LINE).trim().min(1, 'must not be empty').max(200),
  maxCompanies: z.number().int('must be a whole number').min(1).max(20).default(5),
});

/** A POST waits this long for Redis at most; the task is already safe in Postgres either way. */
const ENQUEUE_TIMEOUT_MS = 2_000;

const idempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** POST /v1/tasks: stores the task in Postgres, then queues its search. 202 + Location. */
export function createTaskRoute(deps: GatewayDeps) {
  return new Hono<AuthEnv>().post('/', async (c) => {
    const tenant = c.get('tenant');
    const keyHeader = c.req.header('idempotency-key');
    const key = keyHeader === undefined ? null : validate(z.object({ 'Idempotency-Key': idempotencyKey }), { 'Idempotency-Key': keyHeader }, 'header')['Idempotency-Key'];
    const body = validate(createTaskBody, await readJson(c), 'task');
    const requestHash = createHash('sha256')
      .update(JSON.stringify([body.theme, body.budget, body.voiceId, body.maxCompanies]))
      .digest('hex');
    const result = await deps.repos.tasks.create({
      id: randomUUID(),
      tenant,
      idempotency_key: key,
      request_hash: requestHash,
      theme: body.theme,
      voice_id: body.voiceId,
      currency: CURRENCY,
      max_companies: body.maxCompanies,
      status: 'queued',
      stage: null,
      budget_limit: body.budget,
      token_id: null,
      error_code: null,
      error_message: null,
      ended_at: null,
    });
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
