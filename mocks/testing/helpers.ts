/**
 * Helpers shared by the mocks' contract tests (never used by the mocks themselves).
 */
import type { Hono } from 'hono';
import { startMocks, type RunningMocks } from '../index.ts';
import { checkAnswer } from './contract.ts';

/** The issuer API key the tests use. */
export const API_KEY = 'test-issuer-key';
/** The receipt secret the tests use. */
export const SECRET = 'test-receipt-secret';

/** Reads a JSON body loosely typed, for assertions. */
export async function body(res: Response): Promise<any> {
  return res.json();
}

/** Calls an in-process issuer app with the test API key and a JSON body. */
export function issuerCall(app: Hono, method: string, path: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
      ...(payload === undefined ? {} : { body: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
    }),
  );
}

/** Calls an issuer over HTTP with the test API key; its answer is held to the issuer's contract. */
export async function issuerHttp(issuerUrl: string, method: string, path: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${issuerUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  await checkAnswer('token-issuer', method, path, res);
  return res;
}

let counter = 0;

/** Creates a token over HTTP and returns its JSON. */
export async function createToken(issuerUrl: string, amount: string, merchantId = 'marketplace', extra: Record<string, unknown> = {}): Promise<any> {
  counter += 1;
  const res = await issuerHttp(issuerUrl, 'POST', '/v1/tokens', { amount, currency: 'CNY', merchantId, reference: `task-${counter}`, ...extra });
  if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Starts only the token issuer, on a free port, with the test key. */
export function startIssuer(extra: { dataDir?: string } = {}): Promise<RunningMocks> {
  return startMocks({ only: ['tokenIssuer'], issuerApiKey: API_KEY, faults: {}, ...extra });
}

/** Sends `POST /pay` to an in-process marketplace app. */
export function pay(app: Hono, payload: unknown, key: string | null = 'key-1'): Promise<Response> {
  return Promise.resolve(
    app.request('/pay', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
      body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    }),
  );
}

/** A unique idempotency key per call. */
export function uniqueKey(prefix = 'k'): string {
  counter += 1;
  return `${prefix}-${counter}-${process.hrtime.bigint()}`;
}
