import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { sendIssuerError } from './errors.ts';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Requires `Authorization: Bearer <apiKey>` on every route but `/healthz`; 401 `unauthorized` otherwise. */
export function bearerAuth(apiKey: string): MiddlewareHandler {
  const expected = digest(apiKey);
  return async (c, next) => {
    if (c.req.path === '/healthz') return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match || !timingSafeEqual(digest(match[1] as string), expected)) {
      c.header('WWW-Authenticate', 'Bearer');
      return sendIssuerError(c, 401, 'unauthorized', match ? 'the API key is not valid' : 'missing Authorization: Bearer <api key>');
    }
    return next();
  };
}
