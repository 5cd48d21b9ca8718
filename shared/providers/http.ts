import pRetry from 'p-retry';
import { fetch, type Dispatcher } from 'undici';
import { PermanentError, TransientError } from '../errors.ts';

/** What a provider answered: status, headers and the parsed JSON body (undefined when not JSON). */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
}

export interface HttpRequest {
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

async function requestOnce(url: string, req: HttpRequest): Promise<HttpAnswer> {
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
