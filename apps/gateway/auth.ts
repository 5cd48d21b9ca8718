import { createMiddleware } from 'hono/factory';
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from '../../shared/errors.ts';

export type AuthEnv = { Variables: { tenant: string } };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `Authorization: Bearer <key>` → the key's tenant; every v1 route is scoped to it. */
export function apiKeyAuth(keys: Map<string, string>) {
  const entries = [...keys];
  return createMiddleware<AuthEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const presented = match?.[1]?.trim();
    const tenant = presented ? entries.find(([key]) => sameSecret(key, presented))?.[1] : undefined;
    if (!tenant) throw new ApiError('unauthorized', match ? 'the API key is not valid' : 'send Authorization: Bearer <API key>');
    c.set('tenant', tenant);
    await next();
  });
}
