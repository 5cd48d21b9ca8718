import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { TransientError } from '../errors.ts';
import { PROVIDER_LIMITS } from './limits.ts';

/** An answer's headers, read by name as a WHATWG `Headers` reads them (any case; a repeated one joined by `, `). */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/** What a provider answered: status, headers and the parsed JSON body (undefined when not JSON). */
export interface HttpAnswer {
  status: number;
  headers: AnswerHeaders;
  body: any;
  /** Set when the body was not read because it was longer than this many bytes (the exchange's `maxBytes`). */
  overLimit?: number;
}

/** One exchange: where it goes and what it sends. */
export interface Exchange {
  /** `scheme://host:port`: the pool it goes through, and what errors name (never the path: a token id travels in one). */
  origin: string;
  /** Path and query. */
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** The route template, for errors. */
  route: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The pools to go through; undici's global ones when absent. */
  dispatcher?: Dispatcher;
  /** The most bytes of an answer's body read (PROVIDER_LIMITS.answerBytes when absent). */
  maxBytes?: number;
}

/**
 * Sends one request through the pool of its origin and reads the answer. It is undici's own low-level
 * handler rather than `fetch` or `request`: no Request, Response or stream objects, no AbortSignal of its
 * own; the body's bytes are gathered and parsed as JSON once, at its end. One timer bounds the whole
 * exchange — the wait for a free connection, connecting, the answer and its body — and the caller's signal
 * cuts it short too. No answer in time: TransientError `timeout`; no answer at all: `unreachable`. A body
 * that breaks off after the status came is no error: the answer keeps its status, with no body (as one
 * that is empty or not JSON) — and so does one longer than `maxBytes` (PROVIDER_LIMITS.answerBytes by
 * default), whose reading stops there: a provider cannot make us hold more than that of one answer.
 */
export function exchange(x: Exchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const handler = new JsonHandler(x, resolve, reject);
    if (handler.settled) return; // the caller had stopped already: nothing is sent
    (x.dispatcher ?? getGlobalDispatcher()).dispatch({ origin: x.origin, path: x.path, method: x.method, headers: x.headers, body: x.body }, handler);
  });
}

/** undici's handler interface as its pools call it (the legacy one, which they use inside; no wrapping). */
class JsonHandler {
  #abort: ((reason: Error) => void) | undefined;
  /** Set once the exchange is settled; a cut that came before the connection aborts it there. */
  #failed: Error | undefined;
  #settled = false;
  #status = 0;
  #rawHeaders: Buffer[] = [];
  #chunks: Buffer[] = [];
  #bytes = 0;
  #overLimit: number | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #x: Exchange;
  readonly #resolve: (answer: HttpAnswer) => void;
  readonly #reject: (err: Error) => void;

  constructor(x: Exchange, resolve: (answer: HttpAnswer) => void, reject: (err: Error) => void) {
    this.#x = x;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#timer = setTimeout(() => this.#cut(new TransientError('timeout', `${x.route} at ${x.origin} timed out after ${x.timeoutMs} ms`)), x.timeoutMs);
    if (x.signal?.aborted) this.#callerStopped();
    else x.signal?.addEventListener('abort', this.#callerStopped);
  }

  get settled(): boolean {
    return this.#settled;
  }

  #callerStopped = () => {
    this.#cut(new TransientError('timeout', `${this.#x.route} at ${this.#x.origin} was given up: the caller stopped waiting`));
  };

  /** Ends the exchange with `err` (or, once the status came, with the answer so far) and aborts it. */
  #cut(err: Error) {
    if (this.#settled) return;
    this.#failed = err;
    this.#settle(err);
    this.#abort?.(err);
  }

  #settle(err?: Error) {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#x.signal?.removeEventListener('abort', this.#callerStopped);
    if (this.#status) {
      const answer: HttpAnswer = { status: this.#status, headers: new RawHeaders(this.#rawHeaders), body: err ? undefined : jsonOf(this.#chunks) };
      if (this.#overLimit !== undefined) answer.overLimit = this.#overLimit;
      this.#resolve(answer);
    } else this.#reject(err!);
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.#failed) abort(this.#failed);
    else this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true; // 1xx: the answer is still to come
    this.#status = statusCode;
    this.#rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    const limit = this.#x.maxBytes ?? PROVIDER_LIMITS.answerBytes;
    if (this.#bytes > limit) {
      // Too long to be an answer of ours: what came is dropped, the connection closed; the status stands.
      this.#chunks = [];
      this.#overLimit = limit;
      this.#cut(new TransientError('unreachable', `${this.#x.route} at ${this.#x.origin} answered more than ${limit} bytes`));
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.#settle();
  }

  onError(err: Error & { code?: string; cause?: { code?: string } }): void {
    // Only the error's code: the messages of network errors may quote the URL.
    this.#settle(new TransientError('unreachable', `${this.#x.route} at ${this.#x.origin} failed: ${err.code ?? err.cause?.code ?? err.name ?? 'network error'}`));
  }
}

/** The body as JSON; undefined when it is empty or not JSON. */
function jsonOf(chunks: Buffer[]): unknown {
  if (chunks.length === 0) return undefined;
  let text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark, as a text decoder drops it
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The raw header list undici hands over (name, value, name, value…), read only when a header is asked for. */
class RawHeaders implements AnswerHeaders {
  constructor(private readonly raw: Array<Buffer | string>) {}

  get(name: string): string | null {
    const wanted = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i + 1 < this.raw.length; i += 2) {
      if (this.raw[i]!.toString('latin1').toLowerCase() === wanted) values.push(this.raw[i + 1]!.toString('latin1'));
    }
    return values.length ? values.join(', ') : null;
  }
}
