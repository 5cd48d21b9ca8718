import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * GET /v1/tasks leaks nothing through its query (issue 7, item 5): the cursor is opaque (it does not
 * carry the global task sequence in a readable form, and one cannot be made up) and bound to the
 * tenant it was given to; `limit` is decimal digits only.
 */
describe('GET /v1/tasks: opaque, tenant-bound cursors; a decimal limit', () => {
  let h: Harness;
  const other = { authorization: 'Bearer other-key' };
  const body = (theme: string) => ({ theme, budget: '5.00', voiceId: 'demo-voice' });

  beforeAll(async () => {
    h = await openHarness();
    for (let i = 0; i < 3; i++) await postTask(h, body(`acme ${i}`));
    for (let i = 0; i < 3; i++) await postTask(h, body(`other ${i}`), other);
  });
  afterAll(async () => {
    await h?.close();
  });

  const list = (query: string, headers: Record<string, string> = {}) => h.api(`/v1/tasks?${query}`, { headers });
  const firstCursor = async (headers: Record<string, string> = {}) => ((await (await list('limit=1', headers)).json()) as { nextCursor: string }).nextCursor;
  const seqs = async () => (await sql<{ seq: string }>`select seq::text from tasks order by seq`.execute(h.database.db)).rows.map((r) => r.seq);
  const cursorError = async (res: Response) => {
    const problem = await expectProblem(res, 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['cursor']);
  };

  it('a cursor shows no sequence number, in any of its parts or decodings', async () => {
    const cursor = await firstCursor();
    const readings = [cursor, ...cursor.split('.'), ...[cursor, ...cursor.split('.')].flatMap((p) => [Buffer.from(p, 'base64url').toString('latin1'), Buffer.from(p, 'base64').toString('latin1')])];
    // The old cursor was base64url("v1:<seq>"): readable by anyone. Random bytes spell "v<digit>:<digit>" about never.
    for (const text of readings) expect(text).not.toMatch(/v\d+:\d+/);
    // Two cursors for the same place differ: nothing to compare or count by.
    expect(await firstCursor()).not.toBe(cursor);
  });

  it('a cursor made up from a guessed sequence is refused', async () => {
    for (const seq of [...(await seqs()), '999999']) {
      for (const forged of [Buffer.from(`v1:${seq}`).toString('base64url'), Buffer.from(`v2:${seq}`).toString('base64url'), `v2:${seq}`, seq]) {
        await cursorError(await list(`cursor=${encodeURIComponent(forged)}`));
      }
    }
  });

  it("another tenant's cursor is refused, and shows none of that tenant's tasks", async () => {
    const theirs = await firstCursor();
    const res = await list(`cursor=${encodeURIComponent(theirs)}`, other);
    const text = await res.clone().text();
    await cursorError(res);
    expect(text).not.toContain('acme');
  });

  it('an altered cursor is refused', async () => {
    const cursor = await firstCursor();
    const parts = cursor.split('.');
    const last = parts.at(-1)!;
    const flipped = `${last.slice(0, 5)}${last[5] === 'A' ? 'B' : 'A'}${last.slice(6)}`;
    for (const altered of [[...parts.slice(0, -1), flipped].join('.'), cursor.slice(0, -2), `${cursor}AA`, [parts[0], 'other-key-id', ...parts.slice(2)].join('.')]) {
      await cursorError(await list(`cursor=${encodeURIComponent(altered)}`));
    }
  });

  it('the cursor still pages: every task once, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = (await (await list(`limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json()) as { data: Array<{ theme: string }>; nextCursor?: string };
      seen.push(...page.data.map((t) => t.theme));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(['acme 2', 'acme 1', 'acme 0']);
  });

  it.each(['0x2', '1e1', '0b10', '0o2', ' 2', '2 ', '+2', '2.0', '２', '1_0', 'Infinity', '-0', '0', '101', '0000000002'])('limit=%j is a 400 naming limit', async (limit) => {
    const problem = await expectProblem(await list(`limit=${encodeURIComponent(limit)}`), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['limit']);
  });

  it.each([['1', 1], ['3', 3], ['100', 3], ['002', 2]])('limit=%s is taken', async (limit, count) => {
    const res = await list(`limit=${limit}`, { authorization: `Bearer ${API_KEY}` });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(count);
  });
});
