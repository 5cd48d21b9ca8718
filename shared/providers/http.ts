import pRetry from 'p-retry';
import { fetch, type Dispatcher } from 'undici';
import { PermanentError, TransientError } from '../errors.ts';
import { observeProviderCall } from '../telemetry/metrics.ts';
import { ATTR, inSpan, SpanKind, SpanStatusCode, type Span } from '../telemetry/tracing.ts';

/** What a provider answered: status, headers and the parsed JSON body (undefined when not JSON). */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
}

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
 */
export async function request(url: string, req: HttpRequest): Promise<HttpAnswer> {
  if ((req.method ?? 'GET') !== 'GET') return requestOnce(url, req);
  return pRetry(
    async () => {
      const answer = await requestOnce(url, req);
      if (answer.status === 429 || answer.status >= 500) throw Object.assign(failure(answer, answer.body?.error?.code ?? answer.body?.errors?.[0]?.code, req.route), { answer });
      return answer;
    },
    {
      retries: READ_RETRIES,
      minTimeout: 100,
      maxTimeout: 1_000,
      randomize: true,
      signal: req.signal,
      shouldRetry: ({ error }) => error instanceof TransientError && (error.retryAfterMs ?? 0) <= READ_RETRY_AFTER_CAP_MS,
      onFailedAttempt: async ({ error }) => {
        const wait = error instanceof TransientError ? error.retryAfterMs : undefined;
        if (wait && wait <= READ_RETRY_AFTER_CAP_MS) await new Promise((r) => setTimeout(r, wait));
      },
    },
  ).catch((err) => {
    // Retries spent on an HTTP answer: hand the answer itself back, so the caller words the error.
    if (err && typeof err === 'object' && 'answer' in err) return (err as { answer: HttpAnswer }).answer;
    throw err;
  });
}

/**
 * One try, measured (arp_provider_request_duration_seconds, arp_provider_errors_total) and, when tracing,
 * in a client span named by the route template. The span carries the provider, the method, the route
 * template and the server's host and port: never the URL's path or query (a token id travels in one),
 * a header or a body.
 */
async function requestOnce(url: string, req: HttpRequest): Promise<HttpAnswer> {
  const method = req.method ?? 'GET';
  const operation = operationOf(req.route);
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const where = serverOf(url);
  return inSpan(req.route, { kind: SpanKind.CLIENT, attributes: { [ATTR.provider]: req.provider, 'http.request.method': method, 'http.route': operation, ...where } }, async (span) => {
    let answer: HttpAnswer;
    try {
      answer = await fetchOnce(url, req);
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

/** The server's host and port, for the span (the semantic conventions' server.address, server.port). */
function serverOf(url: string): Record<string, string | number> {
  try {
    const u = new URL(url);
    return { 'server.address': u.hostname, 'server.port': Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
  } catch {
    return {};
  }
}

async function fetchOnce(url: string, req: HttpRequest): Promise<HttpAnswer> {
  const signals = [AbortSignal.timeout(req.timeoutMs)];
  if (req.signal) signals.push(req.signal);
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(url, {
      ...(req.dispatcher ? { dispatcher: req.dispatcher } : {}),
      method: req.method ?? 'GET',
      headers: { accept: 'application/json', ...(req.json !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
      body: req.json !== undefined ? JSON.stringify(req.json) : undefined,
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new TransientError('timeout', `${req.route} at ${originOf(url)} timed out after ${req.timeoutMs} ms`);
    throw new TransientError('unreachable', `${req.route} at ${originOf(url)} failed: ${unreachableReason(e)}`);
  }
  const text = await res.text().catch(() => '');
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body };
}

/** Where a call went, for operators: scheme, host and port only (no path, query or user info). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}

/** Why a call never got an answer, without the URL (fetch's own messages may quote it). */
function unreachableReason(e: Error & { cause?: { code?: string } }): string {
  return e.cause?.code ?? e.name ?? 'network error';
}

/** Reads `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
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
