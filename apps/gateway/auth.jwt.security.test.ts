import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';

const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'agent-research-pay';
const SECRET = 'jwt-secret-for-the-gateway-tests-0123456789';
const now = () => Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const TASK = { theme: 'battery', budget: '10.00', voiceId: 'demo-voice' };

/** `Authorization: Bearer <JWT>` on /v1, beside API keys: `sub` is the tenant, and each bad claim is a 401. */
describe('JWT on the v1 API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => h?.close());

  it('a valid token acts as its tenant: the task it creates is that tenant\'s, and another tenant\'s token cannot see it', async () => {
    const created = await h.api('/v1/tasks', { body: TASK, headers: bearer(await token({ sub: 'acme' })) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await h.repos.tasks.get(id))!.tenant).toBe('acme');
    // The API key of the same tenant sees it; a token for another tenant does not.
    expect((await h.api(`/v1/tasks/${id}`)).status).toBe(200);
    expect((await h.api(`/v1/tasks/${id}`, { headers: bearer(await token({ sub: 'other' })) })).status).toBe(404);
  });

  it.each([
    ['another audience', { sub: 'acme', aud: 'another-api' }],
    ['another issuer', { sub: 'acme', iss: 'https://evil.example.com/' }],
    ['expired beyond the skew', { sub: 'acme', exp: now() - 120 }],
    ['no subject', {}],
  ])('%s is a 401 naming the token, and creates nothing', async (_name, claims) => {
    const before = await h.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const res = await h.api('/v1/tasks', { body: TASK, headers: bearer(await token(claims)) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toBe('the token is not valid (signature, issuer, audience or expiry)');
    const after = await h.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('a token signed with another secret is a 401; API keys keep working beside tokens', async () => {
    expect((await h.api('/v1/tasks', { headers: bearer(await token({ sub: 'acme' }, 'another-secret-of-at-least-32-characters!')) })).status).toBe(401);
    expect((await h.api('/v1/tasks')).status).toBe(200);
  });
});

describe('JWT keys that cannot be fetched', () => {
  let h: Harness;
  beforeAll(async () => {
    // Nothing listens on port 9: the JWKS cannot be fetched.
    h = await openHarness({ env: { JWT_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => h?.close());

  it('is a 503 (try again), not a 401 that would tell a client its token is bad', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const t = await new SignJWT({ sub: 'acme', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const res = await h.api('/v1/tasks', { headers: bearer(t) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('service_unavailable');
  });
});

describe('JWT configuration', () => {
  it('needs one key source, and the issuer and audience every token is checked against', () => {
    expect(() => loadConfig({ JWT_SECRET: SECRET })).toThrow(/JWT_ISSUER, JWT_AUDIENCE: required with JWT_SECRET/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://id.example.com/jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toThrow(/give one/);
    expect(() => loadConfig({ JWT_ISSUER: ISSUER })).toThrow(ConfigError);
    expect(loadConfig({ JWT_JWKS_URL: 'https://id.example.com/jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }).JWT_JWKS_URL).toBe('https://id.example.com/jwks');
  });

  it('production refuses a secret shorter than 256 bits, without showing it', () => {
    const base = { NODE_ENV: 'production', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    let message = '';
    try {
      loadConfig({ ...base, JWT_SECRET: 'only-twenty-chars-xx' }, { uses: ['api'] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JWT_SECRET: is shorter than 32 characters/);
    expect(message).not.toContain('only-twenty-chars-xx');
  });
});
