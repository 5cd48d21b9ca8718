import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { ActiveKey } from '../../shared/db/api-keys.ts';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { KeyRevocations } from './key-revocations.ts';
import { looksLikeJwt, type JwtVerifier } from './jwt.ts';
import type { SignInGate } from './sign-in.ts';

export type AuthEnv = { Variables: { tenant: string } };

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Compared against when no key matched, so a miss costs what a hit costs. */
const NO_KEY = sha256('');

/**
 * How long a gateway trusts what Postgres said about a key. A revoked key is refused by every gateway
 * within this time even when the revocation announcement (Redis pub/sub) never reaches it; with the
 * announcement it is refused at once.
 */
export const KEY_CACHE_MS = 1_000;

/** More cached keys than this and the cache starts over (only valid keys are cached, so this is generous). */
const MAX_CACHED_KEYS = 10_000;

/** Where keys made through the admin API live (ApiKeyRepository). */
export interface KeyStore {
  findActive(digest: string): Promise<ActiveKey | undefined>;
  touch(id: string): Promise<void>;
}

interface Known {
  digest: Buffer;
  tenant: string;
  /** The stored key's id; undefined for a bootstrap key of API_KEYS. */
  keyId?: string;
  until: number;
}

/**
 * The API keys: the bootstrap list (API_KEYS) and the keys in Postgres, each held by its SHA-256
 * digest. A presented key is digested and looked up by its digest (bootstrap first, then the cache,
 * then Postgres), then compared in constant time with the digest found: the work does not depend on
 * how much of a key, or how long a key, an attacker got right. Stored keys are cached for
 * KEY_CACHE_MS at most and dropped at once when a revocation is announced.
 */
export class ApiKeys {
  private readonly bootstrap = new Map<string, Known>();
  private readonly cache = new Map<string, Known>();

  constructor(
    keys: Map<string, string>,
    private readonly store?: KeyStore,
    private readonly opts: { ttlMs?: number; now?: () => number; log?: Logger } = {},
  ) {
    for (const [key, tenant] of keys) {
      const digest = sha256(key);
      this.bootstrap.set(digest.toString('hex'), { digest, tenant, until: Infinity });
    }
  }

  /** The tenant of a presented key, or undefined. */
  async tenantOf(presented: string): Promise<string | undefined> {
    const digest = sha256(presented);
    const hex = digest.toString('hex');
    const entry = this.bootstrap.get(hex) ?? (await this.stored(hex, digest));
    const same = timingSafeEqual(digest, entry?.digest ?? NO_KEY);
    return same && entry ? entry.tenant : undefined;
  }

  /** A stored key by its digest: from the cache while fresh, else from Postgres (and cached). */
  private async stored(hex: string, digest: Buffer): Promise<Known | undefined> {
    if (!this.store) return undefined;
    const now = (this.opts.now ?? Date.now)();
    const cached = this.cache.get(hex);
    if (cached && cached.until > now) return cached;
    this.cache.delete(hex);
    const found = await this.store.findActive(hex);
    if (!found) return undefined;
    if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
    const known = { digest, tenant: found.tenant, keyId: found.id, until: now + (this.opts.ttlMs ?? KEY_CACHE_MS) };
    this.cache.set(hex, known);
    // At most once a minute per key (the store decides); the request does not wait for it.
    this.store.touch(found.id).catch((err: Error) => this.opts.log?.warn({ keyId: found.id, err: err.message }, 'could not note a key as used'));
    return known;
  }

  /** Drops a revoked key from the cache. */
  forget(keyId: string): void {
    for (const [hex, known] of this.cache) if (known.keyId === keyId) this.cache.delete(hex);
  }

  /** Drops every cached key (revocations may have been missed). */
  clear(): void {
    this.cache.clear();
  }

  /** Listens to revocations announced by any gateway. */
  follow(revocations: KeyRevocations | undefined): this {
    revocations?.onRevoked((keyId) => this.forget(keyId));
    revocations?.onReset(() => this.clear());
    return this;
  }
}

/**
 * `Authorization: Bearer <key>` → the key's tenant; every v1 route is scoped to it. A wrong key counts
 * as a failed sign-in of the client's address; a throttled address gets 429 before its key is looked at.
 */
export function apiKeyAuth(keys: ApiKeys, gate: SignInGate, jwt?: JwtVerifier) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const refused = await gate.refusal(c);
    if (refused) return refused;
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const presented = match?.[1]?.trim();
    const asJwt = presented !== undefined && jwt !== undefined && looksLikeJwt(presented);
    const tenant = presented ? (asJwt ? await tenantOfJwt(jwt, presented) : await keys.tenantOf(presented)) : undefined;
    if (!tenant) {
      if (presented) await gate.failed(c);
      throw new ApiError('unauthorized', !match ? 'send Authorization: Bearer <API key or JWT>' : asJwt ? 'the token is not valid (signature, issuer, audience or expiry)' : 'the API key is not valid');
    }
    c.set('tenant', tenant);
    await next();
  });
}

/** A JWT's tenant, or undefined when it is refused; keys that cannot be fetched are a 503, not a 401. */
async function tenantOfJwt(verify: JwtVerifier, token: string): Promise<string | undefined> {
  let verdict: Awaited<ReturnType<JwtVerifier>>;
  try {
    verdict = await verify(token);
  } catch {
    throw new ApiError('service_unavailable', 'the keys that sign tokens (JWT_JWKS_URL) could not be fetched; try again');
  }
  return verdict.ok ? verdict.tenant : undefined;
}
