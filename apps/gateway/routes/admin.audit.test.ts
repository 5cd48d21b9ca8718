import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, makeKey, VIEWER, WITH_OPERATOR } from '../../../test/support/admin.ts';
import { openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * The operators' audit log (issue 8): every operator action — a key made or revoked, a policy changed,
 * a Bull Board write — is recorded in Postgres with who, what, when and from where, and read back with
 * GET /admin/audit?from=&to=.
 */
describe('the operators audit log', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: WITH_OPERATOR });
  });
  afterAll(async () => h?.close());

  const audit = async (query = '') => (await (await admin(h, `/admin/audit${query}`)).json()) as { data: any[]; nextCursor?: string };
  const newest = async () => (await audit('?limit=1000')).data.at(-1);
  const WHO = { actor: 'operator', role: 'operator', address: '203.0.113.7', userAgent: 'admin-test/1.0' };

  it('a key made: who, from where, what (tenant, key id, name, hint) and when — never the key', async () => {
    const before = Date.now();
    const res = await admin(h, '/admin/tenants/acme/keys', { body: { name: 'deploy bot' }, address: '203.0.113.7' });
    const made = (await res.json()) as { id: string; key: string; hint: string };
    const row = await newest();
    expect(row).toMatchObject({ ...WHO, action: 'api_key.created', tenant: 'acme', target: made.id, details: { name: 'deploy bot', hint: made.hint }, status: null });
    expect(Date.parse(row.at)).toBeGreaterThanOrEqual(before - 1_000);
    expect(JSON.stringify(row)).not.toContain(made.key.slice(4));
  });

  it('a key revoked, once (revoking it again records nothing)', async () => {
    const made = await makeKey(h, 'acme', 'short-lived');
    await admin(h, `/admin/tenants/acme/keys/${made.id}`, { method: 'DELETE', address: '203.0.113.7' });
    expect(await newest()).toMatchObject({ ...WHO, action: 'api_key.revoked', tenant: 'acme', target: made.id, details: { name: 'short-lived' } });
    const count = (await audit('?limit=1000')).data.length;
    await admin(h, `/admin/tenants/acme/keys/${made.id}`, { method: 'DELETE', address: '203.0.113.7' });
    expect((await audit('?limit=1000')).data.length).toBe(count);
  });

  it('a policy changed', async () => {
    await admin(h, '/admin/tenants/acme/policy', { method: 'PUT', body: { openTasks: 9 }, address: '203.0.113.7' });
    expect(await newest()).toMatchObject({ ...WHO, action: 'policy.updated', tenant: 'acme', target: 'acme', details: { before: {}, after: { openTasks: 9 }, changes: { openTasks: 9 } } });
  });

  it('a Bull Board write: recorded before it reaches the queue, with the answer it got', async () => {
    const queue = h.producer.queues.search;
    const res = await admin(h, '/admin/queues/api/queues/search/pause', { method: 'PUT', address: '203.0.113.7' });
    expect(res.status).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect(await newest()).toMatchObject({ ...WHO, action: 'queue.write', tenant: null, target: 'search', details: { method: 'PUT', path: '/admin/queues/api/queues/search/pause' }, status: 200 });

    await postTask(h, { theme: 'to clean', budget: '5.00', voiceId: 'demo-voice' });
    const [job] = await queue.getJobs(['waiting']);
    const body = { data: { taskId: 'rewritten' } };
    await admin(h, `/admin/queues/api/queues/search/${job!.id}/update-data`, { method: 'PATCH', body, address: '203.0.113.7' });
    expect(await newest()).toMatchObject({ action: 'queue.write', target: 'search', details: { method: 'PATCH', body: JSON.stringify(body) } });

    await admin(h, '/admin/queues/api/queues/resume', { method: 'PUT', address: '203.0.113.7' });
    expect(await newest()).toMatchObject({ action: 'queue.write', target: 'all queues', status: 200 });
    expect(await queue.isPaused()).toBe(false);
  });

  it('a write the read-only login is refused, or a read, records nothing', async () => {
    const count = (await audit('?limit=1000')).data.length;
    await expectProblem(await admin(h, '/admin/queues/api/queues/search/pause', { method: 'PUT', as: VIEWER }), 403, 'forbidden');
    await admin(h, '/admin/queues/api/queues');
    await admin(h, '/admin/tenants/acme/keys');
    expect((await audit('?limit=1000')).data.length).toBe(count);
  });

  it('no write is made unrecorded: when the record cannot be written, the queue is left as it was', async () => {
    await sql`alter table operator_audit rename to operator_audit_away`.execute(h.database.db);
    try {
      const res = await admin(h, '/admin/queues/api/queues/search/pause', { method: 'PUT' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(await h.producer.queues.search.isPaused()).toBe(false);
      // Keys and policies neither: the change and its record are one transaction.
      expect((await admin(h, '/admin/tenants/unrecorded/keys', { body: { name: 'x' } })).status).toBeGreaterThanOrEqual(500);
      expect(await h.repos.apiKeys.list('unrecorded')).toEqual([]);
    } finally {
      await sql`alter table operator_audit_away rename to operator_audit`.execute(h.database.db);
    }
  });

  it('from (inclusive) and to (exclusive) choose a period; pages follow one another with nextCursor', async () => {
    const all = (await audit('?limit=1000')).data;
    expect(all.length).toBeGreaterThanOrEqual(6);
    // Shift the rows apart in time so the period is exact.
    for (const [i, row] of all.entries()) await sql`update operator_audit set at = ${new Date(Date.UTC(2030, 0, 1, 0, i))} where id = ${row.id}`.execute(h.database.db);
    const period = await audit('?from=2030-01-01T00:01:00Z&to=2030-01-01T00:03:00Z');
    expect(period.data.map((r) => r.id)).toEqual([all[1].id, all[2].id]);
    expect((await audit('?from=2030-01-01&to=2030-01-02&limit=1000')).data.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expect((await audit('?to=2030-01-01')).data).toEqual([]);
    // The same instant with a zone of its own.
    expect((await audit('?from=2030-01-01T08:01:00%2B08:00&to=2030-01-01T08:03:00%2B08:00')).data.map((r) => r.id)).toEqual([all[1].id, all[2].id]);

    const paged: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await audit(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      paged.push(...page.data.map((r) => r.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(paged).toEqual(all.map((r) => r.id));
  });

  it.each([
    ['from=yesterday', 'from'],
    ['from=2030-02-30', 'from'],
    ['from=2030-01-01T10:00:00', 'from'],
    ['to=2030-01-01&from=2030-01-02', 'to'],
    ['from=2030-01-01&to=2030-01-01', 'to'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['cursor=abc', 'cursor'],
    ['tenant=acme', 'tenant'],
  ])('?%s is a 400 naming %s', async (query, path) => {
    const problem = await expectProblem(await admin(h, `/admin/audit?${query}`), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('the read-only admin login reads the log (auditors need no operator rights); nobody else does', async () => {
    expect((await admin(h, '/admin/audit', { as: VIEWER })).status).toBe(200);
    await expectProblem(await admin(h, '/admin/audit', { as: {} }), 401, 'unauthorized');
  });
});
