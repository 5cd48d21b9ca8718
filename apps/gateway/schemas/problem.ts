import { z } from '@hono/zod-openapi';
import { ERROR_CODES, problemBody, type ErrorCode } from '../../../shared/errors.ts';

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** One invalid part of a request, named by its path (`budget`, `cursor`, `Idempotency-Key`, `(root)`). */
export const FieldError = z.strictObject({ path: z.string(), message: z.string() }).openapi('FieldError');

/** The fields of an RFC 9457 problem, `status` and `code` narrowed as given. */
function problemShape<S extends z.ZodType<number>, C extends z.ZodType<ErrorCode>>(status: S, code: C) {
  return z.strictObject({
    type: z.string().openapi({ description: '`urn:arp:error:<code>`', example: 'urn:arp:error:not_found' }),
    title: z.string().openapi({ description: "The code's title (the same for every answer with this code)." }),
    status: status.openapi({ description: 'The HTTP status, repeated.' }),
    detail: z.string().openapi({ description: 'What went wrong with this request, in words.' }),
    code: code.openapi({ description: 'The machine-readable error code (shared/errors.ts).' }),
    errors: z.array(FieldError).min(1).optional().openapi({ description: 'Each invalid field, when the problem is about fields.' }),
  });
}

/** The RFC 9457 body of every error answer (shared/errors.ts `problemBody`). */
export const Problem = problemShape(z.number().int(), z.enum(CODES)).openapi('Problem', { description: 'An RFC 9457 problem (`application/problem+json`).' });
export type Problem = z.infer<typeof Problem>;

/** An example `detail` per code, for the document's examples. */
const EXAMPLE_DETAIL: Partial<Record<ErrorCode, string>> = {
  validation_failed: 'the task is not valid: budget: must be greater than 0',
  invalid_json: 'the body is not valid JSON: Unexpected end of JSON input',
  unauthorized: 'the API key is not valid',
  not_found: 'no task 0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33',
  task_already_ended: 'task 0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33 has already ended (completed)',
  report_not_ready: 'task 0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33 is running; its report is written when it completes',
  unsupported_media_type: 'expected Content-Type: application/json, got "text/plain"',
  payload_too_large: 'the body exceeds 65536 bytes',
  idempotency_conflict: 'Idempotency-Key "order-42" was used with a different task',
  spending_limit_exceeded: "the budget 500.00 exceeds this tenant's largest task budget, 200.00",
  rate_limited: 'this tenant may submit 60 tasks a minute; retry in 12 s',
  too_many_open_tasks: 'this tenant has 20 tasks queued or running, its limit is 20; submit more as they end',
  service_unavailable: 'the service cannot reach its database or queue right now; retry shortly',
  internal_error: 'an unexpected error occurred; it has been logged',
};

const EXAMPLE_ERRORS: Partial<Record<ErrorCode, { path: string; message: string }[]>> = {
  validation_failed: [{ path: 'budget', message: 'must be greater than 0' }],
  spending_limit_exceeded: [{ path: 'budget', message: 'must be at most 200.00 for this tenant' }],
};

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' as const, minimum: 0 } } };
const HEADERS: Partial<Record<number, Record<string, { description: string; schema: { type: 'integer' | 'string'; minimum?: number } }>>> = {
  401: { 'WWW-Authenticate': { description: 'The scheme to use: `Bearer realm="agent-research-pay"`.', schema: { type: 'string' } } },
  429: retryAfter,
  503: retryAfter,
};

/**
 * The documented error answers of a route, grouped by status as the registry maps each code (shared/
 * errors.ts): per status, a Problem whose `code` is one of the codes given, with an example of each.
 * Every status and code a route can answer must be listed; the conformance tests hold the app to it.
 */
export function problemResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, { description: string; headers?: object; content: { 'application/problem+json': { schema: z.ZodType; examples: object } } }> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    // A schema of its own per status rather than allOf over Problem: a closed object (additionalProperties:
    // false) cannot be narrowed with allOf, whose other branch would refuse Problem's own fields.
    const schema = problemShape(z.literal(status), z.enum(list as [ErrorCode, ...ErrorCode[]])).openapi({ description: `A problem with status ${status}.` });
    const examples = Object.fromEntries(
      list.map((code) => [code, { summary: ERROR_CODES[code].title, value: problemBody(code, EXAMPLE_DETAIL[code] ?? ERROR_CODES[code].title, EXAMPLE_ERRORS[code]) }]),
    );
    responses[status] = {
      description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].title}`).join('; '),
      ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
      content: { 'application/problem+json': { schema, examples } },
    };
  }
  return responses;
}

/** What any authenticated `/v1` call can answer: no or a bad credential, a throttled address, an outage, a bug. */
export const V1_PROBLEMS: ErrorCode[] = ['unauthorized', 'rate_limited', 'service_unavailable', 'internal_error'];

/** What a call with a JSON body can answer besides: not JSON, not declared as JSON, too large, not valid. */
export const BODY_PROBLEMS: ErrorCode[] = ['invalid_json', 'unsupported_media_type', 'payload_too_large', 'validation_failed'];
