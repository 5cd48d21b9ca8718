/**
 * The one list of error codes the system speaks, with the HTTP status each maps to on the API.
 * Task failures use the same codes in `task.error.code`.
 */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  invalid_json: { status: 400, title: 'The body is not valid JSON' },
  unauthorized: { status: 401, title: 'A valid API key is required' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  task_already_ended: { status: 409, title: 'The task has already ended' },
  report_not_ready: { status: 409, title: 'The report is not ready' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  idempotency_conflict: { status: 422, title: 'The idempotency key was used with another request' },
  spending_limit_exceeded: { status: 422, title: "The request exceeds the tenant's spending policy" },
  rate_limited: { status: 429, title: 'Too many requests' },
  too_many_open_tasks: { status: 429, title: 'The tenant has too many open tasks' },
  service_unavailable: { status: 503, title: 'A dependency is unavailable' },
  internal_error: { status: 500, title: 'Internal error' },
  // Task failure reasons (not HTTP answers of ours, but shown in task.error).
  voice_not_verified: { status: 403, title: 'The voice ID was not verified' },
  token_declined: { status: 402, title: 'The token issuer declined the payment token' },
  provider_unavailable: { status: 503, title: 'A provider could not be reached' },
  stage_failed: { status: 500, title: 'A pipeline stage failed' },
  cancelled: { status: 409, title: 'The task was cancelled' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One invalid field of a request. */
export interface FieldError {
  path: string;
  message: string;
}

/** An error meant for the API client: becomes an RFC 9457 problem+json body. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** Builds the RFC 9457 body for a code. */
export function problemBody(code: ErrorCode, detail: string, errors?: FieldError[]) {
  const { status, title } = ERROR_CODES[code];
  return { type: `urn:arp:error:${code}`, title, status, detail, code, ...(errors?.length ? { errors } : {}) };
}

/**
 * A failure that retrying will not mend (bad request, declined, unknown resource).
 * Stage processors turn it into a failed task or company without retries.
 */
export class PermanentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A failure that may pass (5xx, timeout, 429, connection refused); `retryAfterMs` when the server said. */
export class TransientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

/** True when an error means a dependency (Postgres, Redis) is down, not that the request was wrong. */
export function isDependencyDown(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && UNAVAILABLE_CODES.has(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Connection is closed|connect ECONNREFUSED|Client has encountered a connection error/i.test(e?.message ?? '');
}
