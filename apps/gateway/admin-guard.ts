import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ClientAddresses } from './client-address.ts';
import { problem } from './problem.ts';
import { isJsonMediaType } from './validate.ts';

/** The host this request was sent to: the Host header, or X-Forwarded-Host when a trusted proxy sent it. */
function ownHost(c: Context, addresses: ClientAddresses): string {
  const peer = addresses.peer(c);
  const forwarded = peer && addresses.isTrusted(peer) ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  return (forwarded || c.req.header('host') || new URL(c.req.url).host).toLowerCase();
}

/** Whether a browser says this request comes from another site (Origin, Sec-Fetch-Site). */
function crossSite(c: Context, addresses: ClientAddresses): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host.toLowerCase() !== ownHost(c, addresses);
  } catch {
    return true; // `Origin: null` (a sandboxed frame, a redirect) or garbage
  }
}

/**
 * Every request under /admin that is not a GET or HEAD (Bull Board's actions) must come from the
 * gateway's own pages and carry JSON, if anything: an Origin (or Sec-Fetch-Site) from elsewhere is
 * 403 forbidden, a body that is not JSON is 415. A form or `text/plain` POST from another site — the
 * kind a browser sends without asking — never reaches a queue. Bull Board's own buttons send no body
 * or JSON, from its own origin.
 */
export function adminWriteGuard(addresses: ClientAddresses) {
  return createMiddleware(async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (crossSite(c, addresses)) return problem(c, 'forbidden', 'a request from another origin cannot change anything here');
    const type = c.req.header('content-type');
    const length = c.req.header('content-length');
    const hasBody = (length !== undefined && length.trim() !== '0') || c.req.header('transfer-encoding') !== undefined;
    if ((hasBody || type !== undefined) && !isJsonMediaType(type)) return problem(c, 'unsupported_media_type', `the body must be application/json, got "${type?.slice(0, 100) || 'none'}"`);
    await next();
  });
}
