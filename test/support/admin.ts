import type { Harness } from './harness.ts';

export const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
/** The harness's read-only admin login. */
export const VIEWER = basic('admin', 'test-admin');
/** The operator password the admin tests give the harness (ADMIN_OPERATOR_PASSWORD). */
export const OPERATOR_PASSWORD = 'test-operator-password';
export const OPERATOR = basic('operator', OPERATOR_PASSWORD);
/** Harness options with the operator login on. */
export const WITH_OPERATOR = { ADMIN_OPERATOR_PASSWORD: OPERATOR_PASSWORD };

/** A client address the gateway sees (as a socket's), for the audit log's "from where". */
export const FROM = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

/**
 * A request to an admin route, in-process: JSON bodies as the admin pages send them, the operator
 * login unless `as` says otherwise, from `address` when given.
 */
export function admin(
  h: Harness,
  path: string,
  init: { method?: string; body?: unknown; as?: Record<string, string>; headers?: Record<string, string>; address?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...(init.as ?? OPERATOR), 'user-agent': 'admin-test/1.0', ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  return Promise.resolve(h.app.request(path, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body }, init.address ? FROM(init.address) : undefined));
}

/** Makes an API key for a tenant through the admin API; returns what the answer holds. */
export async function makeKey(h: Harness, tenant: string, name = 'test key'): Promise<{ id: string; key: string; hint: string }> {
  const res = await admin(h, `/admin/tenants/${tenant}/keys`, { body: { name } });
  if (res.status !== 201) throw new Error(`POST /admin/tenants/${tenant}/keys answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; key: string; hint: string };
}
