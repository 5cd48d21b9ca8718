import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * GET /v1/tasks/:id and GET /v1/tasks (DESIGN.md §5): the task view, 404 for anything that is not the
 * caller's task, and newest-first cursor pagination that returns every task exactly once.
 */
describe('GET /v1/tasks/:id and GET /v1/tasks', () => {
  let h: Harness;
  // Besides the harness's acme and other, a tenant per pagination test, so each sees only its own tasks.
  const keys = { acme: API_KEY, other: 'other-key', pager: 'pager-key', burst: 'burst-key', empty: 'empty-key' };
  const as = (tenant: keyof typeof keys) => ({ authorization: `Bearer ${keys[tenant]}` });
  const body = (theme: string) => ({ theme, budget: '25.00', voiceId: 'demo-voice' });

  beforeAll(async () => {
    h = await openHarness({ env: { API_KEYS: Object.entries(keys).map(([t, k]) => `${t}:${k}`).join(',') } });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Follows nextCursor to the end; returns the ids in the order served and the page sizes. */
  async function walk(tenant: keyof typeof keys, limit: number) {
    const ids: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await h.api(`/v1/tasks?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: as(tenant) });
      expect(res.status).toBe(200);
      const json = (await res.json()) as { data: any[]; nextCursor?: string };
      expect(json.data.length).toBeLessThanOrEqual(limit);
      ids.push(...json.data.map((t) => t.id));
      sizes.push(json.data.length);
      cursor = json.nextCursor;
      if (!cursor) return { ids, sizes };
    }
    throw new Error('pagination did not end');
  }

  describe('one task', () => {
    it('shows the task with the fields of the API view', async () => {
      const id = await postTask(h, body('read me'));
      const res = await h.api(`/v1/tasks/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const task = (await res.json()) as any;
      expect(task).toMatchObject({ id, theme: 'read me', status: 'queued', stage: null, companies: [] });
      expect(task.budget).toMatchObject({ limit: '25.00', reserved: '0.00', spent: '0.00', refunded: '0.00', remaining: '25.00', currency: 'CNY' });
      expect(new Date(task.createdAt).toISOString()).toBe(task.createdAt);
      expect(new Date(task.updatedAt).toISOString()).toBe(task.updatedAt);
      expect(task.error).toBeUndefined();
    });

    it('shows an ended task with its error', async () => {
      const id = await postTask(h, body('ends failed'));
      await h.repos.tasks.end(id, 'failed', { code: 'voice_not_verified', message: 'the voice was not verified' });
      const task = (await (await h.api(`/v1/tasks/${id}`)).json()) as any;
      expect(task.status).toBe('failed');
      expect(task.stage).toBeNull();
      expect(task.error).toEqual({ code: 'voice_not_verified', message: 'the voice was not verified' });
    });

    it.each(['not-a-uuid', '123', 'xyz', '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3', '6f1c2a4e8a4b4c1e9d7e0e6f7a1b2c3d', "1' or '1'='1", '%00', '..%2f..%2fetc'])(
      'answers 404 problem for the non-UUID id %j',
      async (id) => {
        await expectProblem(await h.api(`/v1/tasks/${id}`), 404, 'not_found');
      },
    );

    it('answers 404 problem for an unknown UUID', async () => {
      await expectProblem(await h.api('/v1/tasks/6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d'), 404, 'not_found');
      await expectProblem(await h.api('/v1/tasks/00000000-0000-0000-0000-000000000000'), 404, 'not_found');
    });

    it("answers 404 for another tenant's task, exactly as for an unknown one", async () => {
      const id = await postTask(h, body('acme secret theme'));
      const res = await h.api(`/v1/tasks/${id}`, { headers: as('other') });
      const problem = await expectProblem(res, 404, 'not_found');
      expect(JSON.stringify(problem)).not.toContain('acme');
      const unknown = await expectProblem(await h.api('/v1/tasks/6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d', { headers: as('other') }), 404, 'not_found');
      expect(problem.title).toBe(unknown.title);
      expect(problem.type).toBe(unknown.type);
      // The owner still sees it.
      expect((await h.api(`/v1/tasks/${id}`)).status).toBe(200);
    });
  });

  describe('the list', () => {
    it("lists only the caller's own tasks", async () => {
      const mine = await postTask(h, body('acme listed'));
      const theirs = await postTask(h, body('other listed'), as('other'));
      const acmeIds = ((await (await h.api('/v1/tasks?limit=100')).json()) as any).data.map((t: any) => t.id);
      const otherIds = ((await (await h.api('/v1/tasks?limit=100', { headers: as('other') })).json()) as any).data.map((t: any) => t.id);
      expect(acmeIds).toContain(mine);
      expect(acmeIds).not.toContain(theirs);
      expect(otherIds).toContain(theirs);
      expect(otherIds).not.toContain(mine);
    });

    it('is empty, without a cursor, for a tenant with no tasks', async () => {
      const res = await h.api('/v1/tasks', { headers: as('empty') });
      expect(res.status).toBe(200);
      const json = (await res.json()) as any;
      expect(json.data).toEqual([]);
      expect(json.nextCursor).toBeUndefined();
    });

    it('pages newest first and, following nextCursor, returns every task exactly once', async () => {
      const created: string[] = [];
      for (let i = 0; i < 7; i++) created.push(await postTask(h, body(`page ${i}`), as('pager')));
      const newestFirst = [...created].reverse();

      const first = (await (await h.api('/v1/tasks?limit=3', { headers: as('pager') })).json()) as any;
      expect(first.data.map((t: any) => t.id)).toEqual(newestFirst.slice(0, 3));
      expect(typeof first.nextCursor).toBe('string');
      expect(first.data[0]).toMatchObject({ id: newestFirst[0], theme: 'page 6', status: 'queued', budget: { limit: '25.00', currency: 'CNY' } });

      const byThree = await walk('pager', 3);
      expect(byThree.ids).toEqual(newestFirst);
      expect(byThree.sizes).toEqual([3, 3, 1]);

      // A page that ends exactly at the last task has no nextCursor.
      const exact = await walk('pager', 7);
      expect(exact.ids).toEqual(newestFirst);
      expect(exact.sizes).toEqual([7]);

      expect((await walk('pager', 1)).ids).toEqual(newestFirst);
      expect((await walk('pager', 100)).ids).toEqual(newestFirst);
    });

    it('returns every task exactly once when several were created within the same millisecond', async () => {
      // Concurrent POSTs land within one millisecond; Postgres keeps microseconds. Give five tasks
      // created_at values 1 µs apart inside one millisecond, as a burst of requests would.
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push(await postTask(h, body(`burst ${i}`), as('burst')));
      for (const [i, id] of created.entries()) {
        await sql`update tasks set created_at = '2030-01-01T00:00:00.000100Z'::timestamptz + make_interval(secs => ${i / 1_000_000}) where id = ${id}`.execute(
          h.database.db,
        );
      }
      const all = await walk('burst', 100);
      expect(all.ids).toEqual([...created].reverse());
      for (const limit of [1, 2, 3]) {
        const paged = await walk('burst', limit);
        expect(paged.ids, `limit=${limit}`).toEqual(all.ids);
      }
    });

    it('keeps its place when a task is created while paging: no repeats, no gaps', async () => {
      const created: string[] = [];
      for (let i = 0; i < 4; i++) created.push(await postTask(h, body(`moving ${i}`), as('other')));
      const firstPage = (await (await h.api('/v1/tasks?limit=2', { headers: as('other') })).json()) as any;
      const newer = await postTask(h, body('moving newer'), as('other'));
      const secondPage = (await (await h.api(`/v1/tasks?limit=2&cursor=${encodeURIComponent(firstPage.nextCursor)}`, { headers: as('other') })).json()) as any;
      const seen = [...firstPage.data, ...secondPage.data].map((t: any) => t.id);
      expect(seen).toEqual([created[3], created[2], created[1], created[0]]);
      expect(seen).not.toContain(newer);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
    ])('answers 400 problem for %s', async (query, path) => {
      const problem = await expectProblem(await h.api(`/v1/tasks?${query}`), 400, 'validation_failed');
      expect(problem.errors.map((e: any) => e.path)).toContain(path);
    });

    it.each(['garbage', 'bm90IGEgY3Vyc29y', Buffer.from('2024-01-01T00:00:00.000Z|not-a-uuid').toString('base64url'), Buffer.from('yesterday|6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d').toString('base64url')])(
      'answers 400 problem for the cursor %j that this API never returned',
      async (cursor) => {
        const problem = await expectProblem(await h.api(`/v1/tasks?cursor=${encodeURIComponent(cursor)}`), 400, 'validation_failed');
        expect(problem.errors.map((e: any) => e.path)).toContain('cursor');
      },
    );
  });

  describe('a client error is never a 500', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const uuid = '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d';
    it.each([
      ['an empty limit', '/v1/tasks?limit='],
      ['a huge limit', '/v1/tasks?limit=1e9'],
      ['a limit beyond any integer', '/v1/tasks?limit=99999999999999999999999'],
      ['limit=NaN', '/v1/tasks?limit=NaN'],
      ['limit=Infinity', '/v1/tasks?limit=Infinity'],
      ['a repeated limit', '/v1/tasks?limit=1&limit=2'],
      ['an empty cursor', '/v1/tasks?cursor='],
      ['a NUL cursor', '/v1/tasks?cursor=%00'],
      ['a 5000-character cursor', `/v1/tasks?cursor=${'A'.repeat(5000)}`],
      ['a cursor dated 200001 BC', `/v1/tasks?cursor=${b64(`-200000-01-01T00:00:00.000Z|${uuid}`)}`],
      ['a cursor dated 4715 BC', `/v1/tasks?cursor=${b64(`-004714-01-01T00:00:00.000Z|${uuid}`)}`],
      ['a cursor dated AD 275760', `/v1/tasks?cursor=${b64(`+275760-09-13T00:00:00.000Z|${uuid}`)}`],
      ['a cursor dated year 0', `/v1/tasks?cursor=${b64(`0000-01-01T00:00:00.000Z|${uuid}`)}`],
      ['a cursor with an extra part', `/v1/tasks?cursor=${b64(`2024-01-01T00:00:00.000Z|${uuid}|extra`)}`],
      ['a cursor with a NUL in its date', `/v1/tasks?cursor=${b64(`2024-01-01T00:00:00.000Z\u0000|${uuid}`)}`],
      ['a cursor of a lone separator', `/v1/tasks?cursor=${b64('|')}`],
      ['an emoji cursor', '/v1/tasks?cursor=😀'],
      ['a 5000-character id', `/v1/tasks/${'a'.repeat(5000)}`],
      ['an emoji id', '/v1/tasks/%F0%9F%98%80'],
      ['a broken percent-encoding id', '/v1/tasks/%E0%A4%A'],
      ['an upper-case UUID', `/v1/tasks/${uuid.toUpperCase()}`],
      ['a braced UUID', `/v1/tasks/{${uuid}}`],
      ['a UUID without dashes', `/v1/tasks/${uuid.replace(/-/g, '')}`],
      ['the max UUID', '/v1/tasks/ffffffff-ffff-ffff-ffff-ffffffffffff'],
    ])('GET with %s → 4xx or 200, never 5xx', async (_what, path) => {
      const res = await h.api(path);
      expect(res.status, await res.clone().text()).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });
  });
});
