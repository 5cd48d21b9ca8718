import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Config } from '../../shared/config.ts';
import { problem } from './problem.ts';
import type { SignInGate } from './sign-in.ts';

/** Who signed in to the admin pages: the read-only admin login, or the operator (Bull Board's actions). */
export type AdminRole = 'viewer' | 'operator';
/** The role of the login, and its user name (who acted, for the operators' audit log). */
export type AdminEnv = { Variables: { adminRole: AdminRole; adminUser: string } };

export const ADMIN_REALM = 'agent-research-pay admin';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
/** `user:password` digested, so every comparison is of 32 bytes, whatever was sent. */
const credential = (user: string, password: string) => sha256(`${user.length}:${user}:${password}`);

/** The user and password of `Authorization: Basic …`, or undefined. */
function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Basic auth for /admin and /metrics with two logins: ADMIN_USER/ADMIN_PASSWORD (read-only) and, when
 * ADMIN_OPERATOR_PASSWORD is set, ADMIN_OPERATOR_USER/ADMIN_OPERATOR_PASSWORD (may act on the queues).
 * Both are compared in constant time, every time. Wrong credentials count as a failed sign-in of the
 * client's address; a throttled address gets 429 first.
 */
export function adminAuth(config: Pick<Config, 'ADMIN_USER' | 'ADMIN_PASSWORD' | 'ADMIN_OPERATOR_USER' | 'ADMIN_OPERATOR_PASSWORD'>, gate: SignInGate) {
  const viewer = credential(config.ADMIN_USER, config.ADMIN_PASSWORD);
  const operator = config.ADMIN_OPERATOR_PASSWORD === undefined ? undefined : credential(config.ADMIN_OPERATOR_USER, config.ADMIN_OPERATOR_PASSWORD);
  return createMiddleware<AdminEnv>(async (c, next) => {
    const refused = await gate.refusal(c);
    if (refused) return refused;
    const sent = basicCredentials(c.req.header('authorization'));
    const given = sent ? credential(sent.user, sent.password) : sha256('');
    const isOperator = timingSafeEqual(given, operator ?? viewer) && operator !== undefined;
    const isViewer = timingSafeEqual(given, viewer);
    if (!sent || !(isOperator || isViewer)) {
      if (sent) await gate.failed(c);
      c.header('WWW-Authenticate', `Basic realm="${ADMIN_REALM}", charset="UTF-8"`);
      return problem(c, 'unauthorized', 'sign in with the admin user and password');
    }
    c.set('adminRole', isOperator ? 'operator' : 'viewer');
    c.set('adminUser', isOperator ? config.ADMIN_OPERATOR_USER : config.ADMIN_USER);
    await next();
  });
}
