import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { JwtSettings } from '../../shared/jwt-settings.ts';
import { TENANT_RULE } from './admin-params.ts';

export type { JwtSettings };

/** The most a token's clock may differ from ours (exp, nbf, iat). */
export const CLOCK_SKEW_SECONDS = 60;

/** Three base64url parts: a compact JWS. API keys never have this shape (no dots). */
export const looksLikeJwt = (presented: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(presented);

/** Why a token was refused, for the log (never the token). */
export type JwtRefusal = { ok: false; reason: string };

/**
 * Verifies `Authorization: Bearer <JWT>` tokens: the signature (algorithms fixed by the settings, so a
 * token cannot choose `none` or switch HS/RS), `iss` and `aud` exactly, `exp` required, `nbf`/`iat` when
 * present, all within 60 s of our clock; `sub` is the tenant. JWKS keys are cached and fetched again when
 * a token names a key id not yet seen (rotation), at most once per `cooldownMs`.
 */
export type JwtVerifier = (token: string) => Promise<{ ok: true; tenant: string } | JwtRefusal>;

export function jwtVerifier(settings: JwtSettings, opts: { cooldownMs?: number; cacheMaxAgeMs?: number } = {}): JwtVerifier {
  const key: Uint8Array | JWTVerifyGetKey = settings.secret !== undefined
    ? new TextEncoder().encode(settings.secret)
    : createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: opts.cooldownMs ?? 30_000, cacheMaxAge: opts.cacheMaxAgeMs ?? 600_000, timeoutDuration: 5_000 });
  const algorithms = settings.secret !== undefined ? ['HS256'] : ['RS256', 'ES256'];

  return async function verify(token: string): Promise<{ ok: true; tenant: string } | JwtRefusal> {
    try {
      const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || !TENANT_RULE.test(payload.sub)) return { ok: false, reason: 'sub is not a tenant name' };
      return { ok: true, tenant: payload.sub };
    } catch (err) {
      if (err instanceof errors.JOSEError) return { ok: false, reason: err.code };
      throw err;
    }
  };
}
