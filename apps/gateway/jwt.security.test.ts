import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtVerifier, looksLikeJwt } from './jwt.ts';

const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'agent-research-pay';
const SECRET = 'a-shared-secret-of-at-least-32-bytes!!';
const now = () => Math.floor(Date.now() / 1000);

type Claims = { iss?: string; aud?: string; sub?: string; exp?: number; nbf?: number; iat?: number };
const good = (): Claims => ({ iss: ISSUER, aud: AUDIENCE, sub: 'acme', exp: now() + 300, iat: now() });

async function mint(claims: Claims, key: CryptoKey | Uint8Array, header: { alg: string; kid?: string }): Promise<string> {
  const jwt = new SignJWT({ ...claims } as Record<string, unknown>).setProtectedHeader(header);
  return jwt.sign(key);
}
const hs = (claims: Claims, secret = SECRET) => mint(claims, new TextEncoder().encode(secret), { alg: 'HS256' });

describe('JWT with a shared secret (HS256)', () => {
  const verify = jwtVerifier({ secret: SECRET, issuer: ISSUER, audience: AUDIENCE });

  it('accepts a token for our issuer and audience: sub is the tenant', async () => {
    expect(await verify(await hs(good()))).toEqual({ ok: true, tenant: 'acme' });
  });

  it('allows 60 s of clock skew, not more', async () => {
    expect((await verify(await hs({ ...good(), exp: now() - 30 }))).ok).toBe(true);
    expect(await verify(await hs({ ...good(), exp: now() - 90 }))).toEqual({ ok: false, reason: 'ERR_JWT_EXPIRED' });
    expect((await verify(await hs({ ...good(), nbf: now() + 30 }))).ok).toBe(true);
    expect(await verify(await hs({ ...good(), nbf: now() + 90 }))).toMatchObject({ ok: false, reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });

  it('refuses each bad claim: another issuer, another audience, no exp, no sub, a sub that is not a tenant name', async () => {
    const refused = async (claims: Claims) => (await verify(await hs(claims))).ok;
    expect(await refused({ ...good(), iss: 'https://evil.example.com/' })).toBe(false);
    expect(await refused({ ...good(), aud: 'another-api' })).toBe(false);
    const { exp: _exp, ...noExp } = good();
    expect(await refused(noExp)).toBe(false);
    const { sub: _sub, ...noSub } = good();
    expect(await refused(noSub)).toBe(false);
    expect(await refused({ ...good(), sub: 'acme/../other' })).toBe(false);
    expect(await refused({ ...good(), sub: '' })).toBe(false);
  });

  it('refuses a token signed with another secret, an unsigned one, and a tampered one', async () => {
    expect((await verify(await hs(good(), 'another-secret-of-at-least-32-bytes!!'))).ok).toBe(false);
    const [header, payload] = (await hs(good())).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await verify(none)).ok).toBe(false);
    const other = Buffer.from(JSON.stringify({ ...good(), sub: 'other' })).toString('base64url');
    const [, , signature] = (await hs(good())).split('.');
    expect((await verify(`${header}.${other}.${signature}`)).ok).toBe(false);
  });

  it('tells a JWT from an API key by its shape', () => {
    expect(looksLikeJwt('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJl')).toBe(true);
    expect(looksLikeJwt('acme-key-0123456789abcdef')).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
  });
});

describe('JWT with keys from a JWKS URL (RS256, ES256)', () => {
  let server: ServerType;
  let jwksUrl: string;
  let published: JWK[] = [];
  let fetches = 0;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey };

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256');
    ec = await generateKeyPair('ES256');
    published = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    const app = new Hono().get('/.well-known/jwks.json', (c) => {
      fetches++;
      return c.json({ keys: published });
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

  it('accepts RS256 and ES256 tokens signed by a published key, fetching the keys once', async () => {
    const verify = jwtVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE });
    const before = fetches;
    expect(await verify(await mint(good(), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }))).toEqual({ ok: true, tenant: 'acme' });
    expect(await verify(await mint({ ...good(), sub: 'beta' }, ec.privateKey, { alg: 'ES256', kid: 'ec-1' }))).toEqual({ ok: true, tenant: 'beta' });
    expect(await verify(await mint(good(), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }))).toMatchObject({ ok: true });
    expect(fetches - before).toBe(1);
  });

  it('refuses an HS256 token signed with the public key as a secret (algorithm confusion), and a key nobody published', async () => {
    const verify = jwtVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE });
    const publicPem = JSON.stringify(published[0]);
    expect((await verify(await mint(good(), new TextEncoder().encode(publicPem), { alg: 'HS256', kid: 'rsa-1' }))).ok).toBe(false);
    const stranger = await generateKeyPair('ES256');
    expect((await verify(await mint(good(), stranger.privateKey, { alg: 'ES256', kid: 'ec-1' }))).ok).toBe(false);
    expect((await verify(await mint(good(), stranger.privateKey, { alg: 'ES256', kid: 'unknown' }))).ok).toBe(false);
  });

  it('picks up a rotated key: a token naming a new key id fetches the keys again', async () => {
    const verify = jwtVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE }, { cooldownMs: 0 });
    expect((await verify(await mint(good(), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }))).ok).toBe(true);
    const next = await generateKeyPair('ES256');
    published = [...published, { ...(await exportJWK(next.publicKey)), kid: 'ec-2', alg: 'ES256', use: 'sig' }];
    expect(await verify(await mint(good(), next.privateKey, { alg: 'ES256', kid: 'ec-2' }))).toEqual({ ok: true, tenant: 'acme' });
  });
});
