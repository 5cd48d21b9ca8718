import type { Hono } from 'hono';
import { assertNoProblems, OpenApiContract } from './openapi.ts';

/** What a gateway held to its contract has answered: `METHOD /template` → the statuses seen. */
export type AnswersSeen = Map<string, Set<number>>;

/**
 * Holds an in-process gateway to its own OpenAPI document: every answer `app.request` gives to a call
 * of a documented operation (the /v1 routes, /healthz, /readyz) is checked against the document the
 * app serves at /openapi.json, and a mismatch makes the call throw, naming it. Calls outside the
 * document (admin, metrics, docs, routes that do not exist) pass unchecked. Returns what was seen.
 */
export function holdToContract(app: Hono): AnswersSeen {
  const request = app.request;
  const seen: AnswersSeen = new Map();
  let contract: Promise<OpenApiContract> | undefined;
  const load = async () => {
    const res = await request('/openapi.json');
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    return new OpenApiContract(await res.json(), 'the gateway document');
  };
  app.request = (async (input: RequestInfo | URL, init?: RequestInit, ...rest: unknown[]) => {
    const res = await (request as (...args: unknown[]) => Promise<Response>)(input, init, ...rest);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    const path = new URL(url, 'http://gateway.test').pathname;
    contract ??= load();
    const doc = await contract;
    const op = doc.match(method, path);
    if (!op || (res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return res;
    const key = `${op.method.toUpperCase()} ${op.template}`;
    seen.set(key, (seen.get(key) ?? new Set()).add(res.status));
    const body = await res.clone().text();
    assertNoProblems(`The answer to ${method} ${url}`, doc.responseProblems(method, url, { status: res.status, headers: res.headers, body }));
    return res;
  }) as typeof app.request;
  return seen;
}

/**
 * The routes `app` serves under the given prefixes that the contract lacks, as `METHOD /template`.
 * Middleware (`use('*')`: method ALL, a path ending in `*`) is not a route.
 */
export function undocumentedRoutes(app: Hono, contract: OpenApiContract, prefixes: string[]): string[] {
  const documented = new Set(contract.operations());
  const served = app.routes
    .filter((r) => prefixes.some((p) => r.path === p || r.path.startsWith(`${p}/`)))
    .filter((r) => !(r.method === 'ALL' && r.path.endsWith('*')))
    .map((r) => `${r.method} ${r.path.replace(/:([^/{]+)(\{[^}]*\})?/g, '{$1}')}`);
  return [...new Set(served)].filter((route) => !documented.has(route));
}

/** The operations the contract documents under the prefixes that `app` does not serve. */
export function unservedOperations(app: Hono, contract: OpenApiContract, prefixes: string[]): string[] {
  const served = new Set(app.routes.map((r) => `${r.method} ${r.path.replace(/:([^/{]+)(\{[^}]*\})?/g, '{$1}')}`));
  return contract.operations().filter((op) => prefixes.some((p) => op.split(' ')[1]!.startsWith(p)) && !served.has(op));
}
