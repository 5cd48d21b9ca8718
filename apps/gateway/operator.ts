import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { OperatorContext } from '../../shared/db/operator-audit.ts';
import type { AdminEnv } from './admin-auth.ts';
import type { ClientAddresses } from './client-address.ts';
import { problem } from './problem.ts';

/** Writes under /admin (keys, policies) need the operator login; the admin login is read-only there as on Bull Board. */
export const operatorOnly = createMiddleware<AdminEnv>(async (c, next) => {
  if (c.get('adminRole') !== 'operator') {
    return problem(c, 'forbidden', 'the admin login is read-only; this change needs the operator login (ADMIN_OPERATOR_USER)');
  }
  await next();
});

/** Who is acting and from where, for the operators' audit log: the login, the client address, its user agent (capped). */
export function operatorContext(c: Context<AdminEnv>, addresses: ClientAddresses): OperatorContext {
  return {
    actor: c.get('adminUser'),
    role: c.get('adminRole'),
    address: addresses.of(c) ?? null,
    userAgent: c.req.header('user-agent')?.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 300) ?? null,
  };
}
