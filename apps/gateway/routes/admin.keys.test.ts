import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../../../shared/tenants/api-key.ts';
import { admin, makeKey, VIEWER, WITH_OPERATOR } from '../../../test/support/admin.ts';
import { openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * API keys with a lifecycle (issue 8): an operator makes a key for a tenant (shown once), lists a
 * tenant's keys (never their material) and revokes one — refused at once by this gateway (every
 * gateway: auth.revocation.test.ts). API_KEYS keeps working beside them as a bootstrap list.
 */
describe('/admin/tenants/:tenant/keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: WITH_OPERATOR });
  });
  afterAll(async () => h?.close());

  const v1 = (key: string, path = '/v1/tasks') => h.app.request(path, { headers: { authorization: `Bearer ${key}` } });

  it('an operator makes a key: 201 with the key, shown this once, which works for its tenant at once', async () => {
    const res = await admin(h, '/admin/tenants/beta/keys', { body: { name: 'ci pipeline' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const made = (await res.json()) as any;
    expect(made).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{16}$/),
      key: expect.stringMatching(/^arp_[0-9a-f]{48}$/),
      tenant: 'beta',
      name: 'ci pipeline',
      hint: `arp_…${made.key.slice(-4)}`,
      active: true,
      createdAt: expect.any(String),
      createdBy: 'operator',
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(Math.abs(Date.parse(made.createdAt) - Date.now())).toBeLessThan(60_000);
    // The key is the tenant's: its tasks are beta's.
    expect((await v1(made.key)).status).toBe(200);
    const posted = await h.app.request('/v1/tasks', { method: 'POST', headers: { authorization: `Bearer ${made.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ theme: 'battery', budget: '5.00', voiceId: 'demo-voice' }) });
    expect(posted.status).toBe(202);
    const task = (await h.repos.tasks.get(((await posted.json()) as { id: string }).id))!;
    expect(task.tenant).toBe('beta');
    // Two keys made one after the other differ.
    expect((await makeKey(h, 'beta')).key).not.toBe(made.key);
  });

  it('the list holds every key of the tenant, newest first, revoked ones too, never a key or its digest', async () => {
    const first = await makeKey(h, 'listed', 'first');
    const second = await makeKey(h, 'listed', 'second');
    await admin(h, `/admin/tenants/listed/keys/${first.id}`, { method: 'DELETE' });
    const res = await admin(h, '/admin/tenants/listed/keys');
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const k of [first, second]) {
      expect(text).not.toContain(k.key);
      expect(text).not.toContain(k.key.slice(4, 40));
      expect(text).not.toContain(keyDigest(k.key));
    }
    const body = JSON.parse(text);
    expect(body.tenant).toBe('listed');
    expect(body.bootstrapKeys).toBe(0);
    expect(body.data.map((k: any) => [k.id, k.name, k.active])).toEqual([
      [second.id, 'second', true],
      [first.id, 'first', false],
    ]);
    expect(body.data[1]).toMatchObject({ revokedAt: expect.any(String), revokedBy: 'operator', hint: first.hint });
    // API_KEYS gives acme one bootstrap key: the list says so (it cannot be revoked here).
    expect(((await (await admin(h, '/admin/tenants/acme/keys')).json()) as any).bootstrapKeys).toBe(1);
  });

  it('revoking: 200 with the revocation, the key a 401 at once; again changes nothing; an unknown key is a 404', async () => {
    const made = await makeKey(h, 'gamma');
    expect((await v1(made.key)).status).toBe(200); // cached now
    const res = await admin(h, `/admin/tenants/gamma/keys/${made.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const revoked = (await res.json()) as any;
    expect(revoked).toMatchObject({ id: made.id, active: false, revokedAt: expect.any(String), revokedBy: 'operator' });
    expect(revoked.key).toBeUndefined();
    await expectProblem(await v1(made.key), 401, 'unauthorized');

    const again = await admin(h, `/admin/tenants/gamma/keys/${made.id}`, { method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).revokedAt).toBe(revoked.revokedAt);
    await expectProblem(await admin(h, '/admin/tenants/gamma/keys/key_0000000000000000', { method: 'DELETE' }), 404, 'not_found');
    await expectProblem(await admin(h, '/admin/tenants/gamma/keys/not-a-key-id', { method: 'DELETE' }), 404, 'not_found');
  });

  it('notes when a key was last used', async () => {
    const made = await makeKey(h, 'delta');
    expect((await v1(made.key)).status).toBe(200);
    const key = async () => ((await (await admin(h, '/admin/tenants/delta/keys')).json()) as any).data[0];
    // Noted without holding up the request: wait for it.
    for (let i = 0; i < 100 && (await key()).lastUsedAt === null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(Date.parse((await key()).lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('the read-only admin login lists keys but may not make or revoke one (403), and changes nothing', async () => {
    const made = await makeKey(h, 'epsilon');
    expect((await admin(h, '/admin/tenants/epsilon/keys', { as: VIEWER })).status).toBe(200);
    await expectProblem(await admin(h, '/admin/tenants/epsilon/keys', { as: VIEWER, body: { name: 'x' } }), 403, 'forbidden');
    await expectProblem(await admin(h, `/admin/tenants/epsilon/keys/${made.id}`, { as: VIEWER, method: 'DELETE' }), 403, 'forbidden');
    expect((await h.repos.apiKeys.list('epsilon')).map((k) => [k.id, k.revoked_at])).toEqual([[made.id, null]]);
    expect((await v1(made.key)).status).toBe(200);
  });

  it('without the admin login: 401; an API key is not an admin login', async () => {
    const made = await makeKey(h, 'zeta');
    await expectProblem(await admin(h, '/admin/tenants/zeta/keys', { as: {} }), 401, 'unauthorized');
    await expectProblem(await admin(h, '/admin/tenants/zeta/keys', { as: { authorization: `Bearer ${made.key}` }, body: { name: 'x' } }), 401, 'unauthorized');
  });

  it.each([
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: 'two\nlines' }, 'name'],
    [{ name: 42 }, 'name'],
    [{ name: 'ok', scope: 'all' }, 'scope'],
  ])('a bad body %j is a 400 naming %s', async (body, path) => {
    const problem = await expectProblem(await admin(h, '/admin/tenants/beta/keys', { body }), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it.each(['-lead', 'a b', 'x'.repeat(65), 'ümlaut', 'semi;colon'])('a tenant named %j is a 400 naming tenant', async (tenant) => {
    const problem = await expectProblem(await admin(h, `/admin/tenants/${encodeURIComponent(tenant)}/keys`), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['tenant']);
  });

  it('the write guard of /admin holds: another origin is 403, a body that is not JSON 415, not JSON at all 400', async () => {
    await expectProblem(await admin(h, '/admin/tenants/beta/keys', { body: { name: 'x' }, headers: { origin: 'https://evil.example', host: 'gw.test' } }), 403, 'forbidden');
    await expectProblem(await admin(h, '/admin/tenants/beta/keys', { body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    await expectProblem(await admin(h, '/admin/tenants/beta/keys', { body: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
    expect((await admin(h, '/admin/tenants/beta/keys', { body: { name: 'same site' }, headers: { origin: 'http://gw.test', host: 'gw.test' } })).status).toBe(201);
  });

  it('the bootstrap keys of API_KEYS still work beside the stored ones', async () => {
    expect((await h.api('/v1/tasks')).status).toBe(200);
    const id = await postTask(h, { theme: 'bootstrap', budget: '5.00', voiceId: 'demo-voice' });
    expect((await h.repos.tasks.get(id))!.tenant).toBe('acme');
  });
});
