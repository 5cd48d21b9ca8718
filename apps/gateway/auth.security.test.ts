import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openHarness, postTask, type Harness } from '../../test/support/harness.ts';

/**
 * The v1 API's keys (DESIGN.md §5, §6 API_KEYS): every v1 route needs `Authorization: Bearer <key>`;
 * a missing or wrong key is a 401 problem+json that says nothing about tenants or tasks; a key sees
 * its own tenant's tasks only, and another tenant's task is indistinguishable from an unknown one.
 */
describe('v1 API keys', () => {
  let h: Harness;
  let acmeTask: string;
  const secretTheme = 'acme confidential acquisition target';
  const otherKey = { authorization: 'Bearer other-key' };
  const unknownId = '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d';
  const valid = { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' };

  beforeAll(async () => {
    h = await openHarness();
    acmeTask = await postTask(h, { ...valid, theme: secretTheme });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A request with exactly these headers (no default key). */
  const raw = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    h.app.request(path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function taskCount(): Promise<number> {
    const row = await sql<{ n: number | string }>`select count(*)::int as n from tasks`.execute(h.database.db);
    return Number(row.rows[0]!.n);
  }

  async function expectUnauthorized(res: Response): Promise<string> {
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const text = await res.text();
    const problem = JSON.parse(text);
    expect(problem).toMatchObject({ status: 401, code: 'unauthorized' });
    for (const field of ['type', 'title', 'detail']) expect(typeof problem[field]).toBe('string');
    // Nothing about who the tenants are, what their keys are, or what they hold.
    for (const secret of ['acme', 'other', API_KEY, 'other-key', secretTheme, acmeTask]) expect(text).not.toContain(secret);
    return text;
  }

  const routes = () => [
    ['POST', '/v1/tasks', valid],
    ['GET', '/v1/tasks', undefined],
    ['GET', `/v1/tasks/${acmeTask}`, undefined],
    ['GET', `/v1/tasks/${unknownId}`, undefined],
    ['POST', `/v1/tasks/${acmeTask}/cancel`, undefined],
    ['GET', `/v1/tasks/${acmeTask}/report`, undefined],
    ['GET', `/v1/tasks/${acmeTask}/usage`, undefined],
    ['GET', `/v1/tasks/${acmeTask}/payments`, undefined],
    ['GET', '/v1/usage', undefined],
  ] as const;

  const badCredentials: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['an empty Authorization header', { authorization: '' }],
    ['"Bearer" with no key', { authorization: 'Bearer' }],
    ['"Bearer " with a blank key', { authorization: 'Bearer    ' }],
    ['a wrong key', { authorization: 'Bearer wrong-key' }],
    ['a key that is a prefix of a real one', { authorization: `Bearer ${API_KEY.slice(0, -1)}` }],
    ['a real key with extra characters', { authorization: `Bearer ${API_KEY}x` }],
    ['a real key in another case', { authorization: `Bearer ${API_KEY.toUpperCase()}` }],
    ['a tenant name instead of a key', { authorization: 'Bearer acme' }],
    ['a tenant:key pair', { authorization: `Bearer acme:${API_KEY}` }],
    ['the key without a scheme', { authorization: API_KEY }],
    ['the key under Basic', { authorization: `Basic ${Buffer.from(`acme:${API_KEY}`).toString('base64')}` }],
    ['the admin credentials', { authorization: `Basic ${Buffer.from('admin:test-admin').toString('base64')}` }],
    ['the key in another header', { 'x-api-key': API_KEY }],
  ];

  describe.each(badCredentials)('with %s', (_what, headers) => {
    it('every v1 route answers 401 problem+json without tenant details', async () => {
      for (const [method, path, body] of routes()) {
        await expectUnauthorized(await raw(method, path, headers, body));
      }
    });
  });

  it('the key in the query string is not accepted', async () => {
    await expectUnauthorized(await raw('GET', `/v1/tasks?api_key=${API_KEY}`));
  });

  it('an unauthenticated POST stores no task', async () => {
    const before = await taskCount();
    await expectUnauthorized(await raw('POST', '/v1/tasks', {}, valid));
    await expectUnauthorized(await raw('POST', '/v1/tasks', { authorization: 'Bearer wrong-key', 'idempotency-key': 'k1' }, valid));
    expect(await taskCount()).toBe(before);
  });

  it('an unauthenticated cancel changes nothing', async () => {
    await expectUnauthorized(await raw('POST', `/v1/tasks/${acmeTask}/cancel`, { authorization: 'Bearer wrong-key' }));
    const task = (await (await h.api(`/v1/tasks/${acmeTask}`)).json()) as any;
    expect(task.cancelRequested).toBeUndefined();
  });

  it('answers the same 401 for an existing task and an unknown one (no existence oracle)', async () => {
    const existing = await expectUnauthorized(await raw('GET', `/v1/tasks/${acmeTask}`, { authorization: 'Bearer wrong-key' }));
    const unknown = await expectUnauthorized(await raw('GET', `/v1/tasks/${unknownId}`, { authorization: 'Bearer wrong-key' }));
    expect(existing).toBe(unknown);
  });

  it('the right key is accepted (scheme case-insensitive)', async () => {
    expect((await raw('GET', '/v1/tasks', { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
    expect((await raw('GET', '/v1/tasks', { authorization: `bearer ${API_KEY}` })).status).toBe(200);
  });

  describe('between tenants', () => {
    it("another tenant's task is 404 on every route, the same answer as an unknown task", async () => {
      for (const suffix of ['', '/report', '/usage', '/payments']) {
        const theirs = await h.api(`/v1/tasks/${acmeTask}${suffix}`, { headers: otherKey });
        const none = await h.api(`/v1/tasks/${unknownId}${suffix}`, { headers: otherKey });
        expect(theirs.status).toBe(404);
        expect(none.status).toBe(404);
        const a = (await theirs.json()) as any;
        const b = (await none.json()) as any;
        expect(a.code).toBe('not_found');
        expect({ ...a, detail: undefined }).toEqual({ ...b, detail: undefined });
        expect(JSON.stringify(a)).not.toContain(secretTheme);
        expect(JSON.stringify(a)).not.toContain('acme');
      }
      const cancel = await h.api(`/v1/tasks/${acmeTask}/cancel`, { method: 'POST', headers: otherKey });
      expect(cancel.status).toBe(404);
      expect(((await (await h.api(`/v1/tasks/${acmeTask}`)).json()) as any).cancelRequested).toBeUndefined();
    });

    it("another tenant's list does not hold the task", async () => {
      const list = (await (await h.api('/v1/tasks?limit=100', { headers: otherKey })).json()) as any;
      expect(list.data.map((t: any) => t.id)).not.toContain(acmeTask);
      expect(JSON.stringify(list)).not.toContain(secretTheme);
    });

    it("a cursor from one tenant's list does not reveal another's tasks", async () => {
      await postTask(h, { ...valid, theme: 'acme second' });
      const page = (await (await h.api('/v1/tasks?limit=1')).json()) as any;
      expect(typeof page.nextCursor).toBe('string');
      const res = await h.api(`/v1/tasks?limit=100&cursor=${encodeURIComponent(page.nextCursor)}`, { headers: otherKey });
      expect(res.status).toBeLessThan(500);
      const text = await res.text();
      expect(text).not.toContain(acmeTask);
      expect(text).not.toContain(secretTheme);
    });

    it("an Idempotency-Key another tenant used neither returns nor reveals that tenant's task", async () => {
      const key = 'shared-looking-key-1';
      const acme = await h.api('/v1/tasks', { body: { ...valid, theme: 'acme keyed' }, headers: { 'idempotency-key': key } });
      expect(acme.status).toBe(202);
      const acmeId = ((await acme.json()) as any).id;

      // Same key, same body, other tenant: its own new task.
      const same = await h.api('/v1/tasks', { body: { ...valid, theme: 'acme keyed' }, headers: { ...otherKey, 'idempotency-key': key } });
      expect(same.status).toBe(202);
      const sameId = ((await same.json()) as any).id;
      expect(sameId).not.toBe(acmeId);

      // A fresh key, another body, still the other tenant's own: no conflict with acme's use.
      const fresh = await h.api('/v1/tasks', { body: { ...valid, theme: 'other keyed' }, headers: { ...otherKey, 'idempotency-key': 'shared-looking-key-2' } });
      expect(fresh.status).toBe(202);
      await h.api('/v1/tasks', { body: { ...valid, theme: 'acme keyed 2' }, headers: { 'idempotency-key': 'shared-looking-key-2' } }).then((r) => expect(r.status).toBe(202));

      const acmeView = (await (await h.api(`/v1/tasks/${acmeId}`)).json()) as any;
      expect(acmeView.theme).toBe('acme keyed');
      expect((await h.api(`/v1/tasks/${acmeId}`, { headers: otherKey })).status).toBe(404);
    });
  });
});
