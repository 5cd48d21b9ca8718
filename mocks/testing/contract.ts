/**
 * Holds the stand-ins to their providers' contracts in their own tests (issue 12): every answer an app
 * gives to an operation of its `openapi.yaml` is checked against it, and one that does not conform
 * makes the call throw, naming the mismatch. Test code only; the mocks themselves never load it.
 */
import type { Hono } from 'hono';
import { assertNoProblems, OpenApiContract } from '../../test/support/openapi.ts';

/** The providers with a contract, by the folder their stand-in and its `openapi.yaml` live in. */
export type Provider = 'marketplace' | 'token-issuer' | 'voiceid' | 'llm';

const contracts = new Map<Provider, OpenApiContract>();

/** The provider's contract, read once from `mocks/<provider>/openapi.yaml`. */
export function providerContract(provider: Provider): OpenApiContract {
  let contract = contracts.get(provider);
  if (!contract) {
    contract = OpenApiContract.fromFile(new URL(`../${provider}/openapi.yaml`, import.meta.url).pathname, `mocks/${provider}/openapi.yaml`);
    contracts.set(provider, contract);
  }
  return contract;
}

/**
 * Throws when an answer to a documented operation does not conform; answers outside the contract pass.
 * `seen` collects `METHOD /template → status` of each answer checked.
 */
export async function checkAnswer(provider: Provider, method: string, url: string, res: Response, seen?: Set<string>): Promise<void> {
  const contract = providerContract(provider);
  const op = contract.match(method, new URL(url, 'http://provider.test').pathname);
  if (!op) return;
  seen?.add(`${op.method.toUpperCase()} ${op.template} → ${res.status}`);
  const body = await res.clone().text();
  assertNoProblems(`${provider}: the answer to ${method} ${url}`, contract.responseProblems(method, url, { status: res.status, headers: res.headers, body }));
}

/** The app, with every answer `app.request` gives held to the provider's contract (`seen`: as for checkAnswer). */
export function conforming<T extends Hono>(app: T, provider: Provider, seen?: Set<string>): T {
  const request = app.request;
  app.request = (async (input: RequestInfo | URL, init?: RequestInit, ...rest: unknown[]) => {
    const res = await (request as (...args: unknown[]) => Promise<Response>)(input, init, ...rest);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    await checkAnswer(provider, method, input instanceof Request ? input.url : String(input), res, seen);
    return res;
  }) as typeof app.request;
  return app;
}
