import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../../shared/errors.ts';
import type { SignInGate } from './sign-in.ts';

export type AuthEnv = { Variables: { tenant: string } };

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Compared against when no key matched, so a miss costs what a hit costs. */
const NO_KEY = sha256('');

/**
 * The API keys, held by their SHA-256 digests. A presented key is digested and looked up by its
 * digest, then compared in constant time with the digest found: the work does not depend on how much
 * of a key, or how long a key, an attacker got right.
 */
export class ApiKeys {
  private readonly byDigest = new Map<string, { digest: Buffer; tenant: string }>();

  constructor(keys: Map<string, string>) {
    for (const [key, tenant] of keys) {
      const digest = sha256(key);
      this.byDigest.set(digest.toString('hex'), { digest, tenant });
    }
  }

  /** The tenant of a presented key, or undefined. */
  tenantOf(presented: string): string | undefined {
    const digest = sha256(presented);
    const entry = this.byDigest.get(digest.toString('hex'));
    const same = timingSafeEqual(digest, entry?.digest ?? NO_KEY);
    return same && entry ? entry.tenant : undefined;
  }
}

/**
 * `Authorization: Bearer <key>` → the key's tenant; every v1 route is scoped to it. A wrong key counts
 * as a failed sign-in of the client's address; a throttled address gets 429 before its key is looked at.
 */
export function apiKeyAuth(keys: Map<string, string>, gate: SignInGate) {
  const index = new ApiKeys(keys);
  return createMiddleware<AuthEnv>(async (c, next) => {
    const refused = await gate.refusal(c);
    if (refused) return refused;
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const presented = match?.[1]?.trim();
    const tenant = presented ? index.tenantOf(presented) : undefined;
    if (!tenant) {
      if (presented) await gate.failed(c);
      throw new ApiError('unauthorized', match ? 'the API key is not valid' : 'send Authorization: Bearer <API key>');
    }
    c.set('tenant', tenant);
    await next();
  });
}
