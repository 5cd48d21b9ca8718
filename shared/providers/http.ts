import type { Dispatcher } from 'undici';
import { PermanentError, TransientError } from '../errors.ts';
import { observeProviderCall } from '../telemetry/metrics.ts';
import { ATTR, inSpan, SpanKind, SpanStatusCode, type Span } from '../telemetry/tracing.ts';
import { exchange, type AnswerHeaders, type HttpAnswer } from './exchange.ts';

export type { AnswerHeaders, HttpAnswer } from './exchange.ts';

/** Who is called, for metrics and spans. */
export type ProviderName = 'marketplace' | 'issuer' | 'voiceid';

export interface HttpRequest {
  provider: ProviderName;
  /**
   * The call as its route template, e.g. `POST /v1/tokens/:id/close`. Errors name this, never the
   * URL: a URL may carry a credential (the payment token id is one).
   */
  route: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  json?: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The connection pool to use (mutual TLS to the providers, shared/providers/tls.ts); the default one when absent. */
  dispatcher?: Dispatcher;
  /** Error statuses that are an expected answer here, not a failure (the marketplace's 402 to a probe). */
  expect?: number[];
  /** The most bytes of the answer read: PROVIDER_LIMITS.answerBytes when absent (a listing sets its own). */
  maxBytes?: number;
}

/** How often a read (GET) is tried again at once on a 429, a 5xx or a network failure. */
const READ_RETRIES = 2;
/** The longest Retry-After a read waits in place; a longer one is left to the job's own backoff. */
const READ_RETRY_AFTER_CAP_MS = 2_000;

/**
 * One HTTP call to a provider with a time limit. Network failures and time-outs become
 * TransientError (`timeout`, `unreachable`); every answer, whatever its status, is returned.
 * A read (GET) is safe to repeat, so a passing 429/5xx/network failure is retried in place a couple
 * of times (honouring a short Retry-After) before the caller sees it; writes are never repeated here.
 * The caller's signal stops it: a read rejects with the signal's reason, a write with a `timeout`
 * (the provider may have carried it out, as after a time-out).
 */
export async function request(url: string, req: HttpRequest): Promise<HttpAnswer> {
  const target = targetOf(url);
  if ((req.method ?? 'GET') !== 'GET') return requestOnce(target, req);
  for (let retry = 0; ; retry++) {
    req.signal?.throwIfAborted();
    let answer: HttpAnswer | undefined;
    let wait: number | undefined;
    try {
      answer = await requestOnce(target, req);
      if (answer.status !== 429 && answer.status < 500) {
        req.signal?.throwIfAborted();
        return answer;
      }
      wait = retryAfterMs(answer.headers);
    } catch (err) {
      if (!(err instanceof TransientError) || retry === READ_RETRIES || (err.retryAfterMs ?? 0) > READ_RETRY_AFTER_CAP_MS) throw err;
      wait = err.retryAfterMs;
    }
    // Retries spent, or told to come back later than we wait in place: the answer itself, for the caller to word.
    if (answer && (retry === READ_RETRIES || (wait ?? 0) > READ_RETRY_AFTER_CAP_MS)) return answer;
    req.signal?.throwIfAborted();
    await pause((wait ?? 0) + backoffMs(retry), req.signal);
  }
}

/** 100–200 ms before the first retry, 200–400 ms before the second (at most 1 s). */
function backoffMs(retry: number): number {
  return Math.min(1_000, Math.round((1 + Math.random()) * 100 * 2 ** retry));
}

/** Waits `ms`; the caller's signal ends the wait, rejecting with its reason. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Where a call goes, parsed once per call: for the pool, the span and the errors. */
interface Target {
  /** `scheme://host:port`: what errors name (never the path or the query: a token id travels in one). */
  origin: string;
  /** Path and query, as sent. */
  path: string;
  /** The span's server.address and server.port (empty for a URL that does not parse). */
  server: Record<string, string | number>;
}

function targetOf(url: string): Target | undefined {
  try {
    const u = new URL(url);
    return { origin: u.origin, path: `${u.pathname}${u.search}`, server: { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'https:' ? 443 : 80)) } };
  } catch {
    return undefined;
  }
}

/**
 * One try, measured (arp_provider_request_duration_seconds, arp_provider_errors_total) and, when tracing,
 * in a client span named by the route template. The span carries the provider, the method, the route
 * template and the server's host and port: never the URL's path or query (a token id travels in one),
 * a header or a body.
 */
async function requestOnce(target: Target | undefined, req: HttpRequest): Promise<HttpAnswer> {
  const method = req.method ?? 'GET';
  const operation = operationOf(req.route);
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  return inSpan(req.route, { kind: SpanKind.CLIENT, attributes: { [ATTR.provider]: req.provider, 'http.request.method': method, 'http.route': operation, ...target?.server } }, async (span) => {
    let answer: HttpAnswer;
    try {
      answer = await send(target, req);
    } catch (err) {
      observeProviderCall(req.provider, operation, seconds(), (err as TransientError).code ?? 'unreachable');
      throw err;
    }
    const code = answer.status >= 400 && !req.expect?.includes(answer.status) ? answerCode(answer) : undefined;
    observeProviderCall(req.provider, operation, seconds(), code);
    noteAnswer(span, answer.status, code);
    return answer;
  });
}

/** The status on the span; a failed answer marks it as an error with the provider's code. */
function noteAnswer(span: Span | undefined, status: number, code: string | undefined): void {
  if (!span) return;
  span.setAttribute('http.response.status_code', status);
  if (code === undefined) return;
  span.setAttributes({ [ATTR.providerCode]: code, 'error.type': code });
  span.setStatus({ code: SpanStatusCode.ERROR, message: `answered ${status} ${code}` });
}

/** The provider's error code in an answer (either error shape of DESIGN.md §4), else `http_<status>`. */
function answerCode(answer: HttpAnswer): string {
  const code = answer.body?.error?.code ?? answer.body?.errors?.[0]?.code;
  return typeof code === 'string' ? code : `http_${answer.status}`;
}

/** `marketplace GET /company/basic` → `GET /company/basic`: the route template without the provider's name. */
function operationOf(route: string): string {
  return /\b(?:GET|POST|PUT|PATCH|DELETE) \S.*$/.exec(route)?.[0] ?? route;
}

/** The call as one exchange (shared/providers/exchange.ts): JSON in, JSON out. */
function send(target: Target | undefined, req: HttpRequest): Promise<HttpAnswer> {
  if (!target) return Promise.reject(new TransientError('unreachable', `${req.route} at an invalid URL failed: ERR_INVALID_URL`));
  const json = req.json !== undefined;
  return exchange({
    origin: target.origin,
    path: target.path,
    method: req.method ?? 'GET',
    headers: json ? { accept: 'application/json', 'content-type': 'application/json', ...req.headers } : { accept: 'application/json', ...req.headers },
    body: json ? JSON.stringify(req.json) : undefined,
    route: req.route,
    timeoutMs: req.timeoutMs,
    signal: req.signal,
    dispatcher: req.dispatcher,
    maxBytes: req.maxBytes,
  });
}

/** Reads `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(headers: AnswerHeaders): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Refuses an answer whose body was not read because it was too long (`overLimit`): it is never parsed in
 * part, and the error names the limit instead of calling the answer malformed. Transient `bad_response` by
 * default; `permanent` where asking again cannot help and the caller must act on it now (a paid record).
 */
export function refuseOverLimit(answer: HttpAnswer, what: string, opts: { permanent?: { code: string } } = {}): void {
  if (answer.overLimit === undefined) return;
  const message = `${what} answered more than ${answer.overLimit} bytes: not read`;
  throw opts.permanent ? new PermanentError(opts.permanent.code, message) : new TransientError('bad_response', message);
}

/**
 * Turns a non-success answer into the right error: 429, 5xx and 408 may pass (transient);
 * every other 4xx is the provider's final word (permanent), with its error code.
 */
export function failure(answer: HttpAnswer, code: string | undefined, what: string): Error {
  const message = `${what} answered ${answer.status}${code ? ` ${code}` : ''}`;
  if (answer.status === 429 || answer.status === 408 || answer.status >= 500) {
    return new TransientError(code ?? `http_${answer.status}`, message, retryAfterMs(answer.headers));
  }
  return new PermanentError(code ?? `http_${answer.status}`, message);
}
