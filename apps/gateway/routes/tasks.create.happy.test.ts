import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { statementsOf } from '../../../test/support/statements.ts';

/**
 * POST /v1/tasks, the accepted requests (DESIGN.md §5, §3): 202 with a Location, the task queued with
 * its budget shown as two-decimal strings, defaults applied, and Idempotency-Key honoured.
 */
describe('POST /v1/tasks (accepted)', () => {
  let h: Harness;
  let seq = 0;
  /** A theme no other test uses, so a test can count its own tasks. */
  const theme = (what: string) => `${what} #${++seq} ${Date.now()}`;
  const body = (extra: Record<string, unknown> = {}) => ({ theme: theme('solid-state battery makers'), budget: '50.00', voiceId: 'demo-voice', ...extra });

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function create(payload: unknown, headers: Record<string, string> = {}) {
    const res = await h.api('/v1/tasks', { method: 'POST', body: payload, headers });
    return { res, json: (await res.json()) as any };
  }

  async function allTasks(): Promise<any[]> {
    const res = await h.api('/v1/tasks?limit=100');
    expect(res.status).toBe(200);
    return ((await res.json()) as any).data;
  }

  it('answers 202 with a Location to the new task, queued, with its whole budget remaining', async () => {
    const payload = body({ budget: 50 });
    const { res, json } = await create(payload);
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(res.headers.get('location')).toBe(`/v1/tasks/${json.id}`);
    expect(json.status).toBe('queued');
    expect(json.stage).toBeNull();
    expect(json.theme).toBe(payload.theme);
    expect(json.companies).toEqual([]);
    expect(json.budget).toMatchObject({ limit: '50.00', reserved: '0.00', spent: '0.00', refunded: '0.00', remaining: '50.00', currency: 'CNY' });
    expect(Number.isNaN(Date.parse(json.createdAt))).toBe(false);
    expect(Number.isNaN(Date.parse(json.updatedAt))).toBe(false);
    expect(json.error).toBeUndefined();
  });

  it('stores the task: the Location answers with the same task', async () => {
    const { res, json } = await create(body());
    const read = await h.api(res.headers.get('location')!);
    expect(read.status).toBe(200);
    const task = (await read.json()) as any;
    expect(task.id).toBe(json.id);
    expect(task.theme).toBe(json.theme);
    expect(task.status).toBe('queued');
    expect(task.budget.limit).toBe('50.00');
  });

  it('costs Postgres three statements in one transaction: the policy, the lock, one look-and-insert with its event', async () => {
    if (h.database.kind !== 'postgres') return;
    const { result, statements, transactions } = await statementsOf(() => create(body()));
    expect(result.res.status).toBe(202);
    expect(statements).toBeLessThanOrEqual(3);
    expect(transactions).toBe(1);
    const story = await h.repos.events.since(result.json.id, 0);
    expect(story.map((e) => [e.seq, e.type, e.data])).toEqual([[1, 'created', { status: 'queued' }]]);
  });

  it('queues the search for the task', async () => {
    const { json } = await create(body());
    const jobs = await h.producer.queues.search.getJobs(['waiting', 'delayed', 'prioritized', 'active']);
    expect(jobs.filter((j) => j.data.taskId === json.id)).toHaveLength(1);
  });

  it.each([
    [50, '50.00'],
    ['50.00', '50.00'],
    [12.5, '12.50'],
    ['12.5', '12.50'],
    ['12', '12.00'],
    [12, '12.00'],
    [0.01, '0.01'],
    ['0.01', '0.01'],
    [19.99, '19.99'],
    ['100000.00', '100000.00'],
    [100000, '100000.00'],
    [100000.0, '100000.00'],
  ])('takes budget %j and shows it as %s', async (budget, shown) => {
    const { res, json } = await create(body({ budget }));
    expect(res.status).toBe(202);
    expect(json.budget.limit).toBe(shown);
    expect(json.budget.remaining).toBe(shown);
    expect(json.budget.currency).toBe('CNY');
  });

  it('accepts currency "CNY" when given', async () => {
    const { res, json } = await create(body({ currency: 'CNY' }));
    expect(res.status).toBe(202);
    expect(json.budget.currency).toBe('CNY');
  });

  it('defaults maxCompanies to 5', async () => {
    const { res, json } = await create(body());
    expect(res.status).toBe(202);
    expect(json.maxCompanies).toBe(5);
  });

  it.each([1, 20, 7])('accepts maxCompanies %i', async (maxCompanies) => {
    const { res, json } = await create(body({ maxCompanies }));
    expect(res.status).toBe(202);
    expect(json.maxCompanies).toBe(maxCompanies);
  });

  it('accepts a theme of exactly 500 characters and one of 1', async () => {
    for (const t of ['t'.repeat(500), 'x']) {
      const { res, json } = await create(body({ theme: t }));
      expect(res.status).toBe(202);
      expect(json.theme).toBe(t);
    }
  });

  it('accepts themes in any script', async () => {
    for (const t of ['固态电池制造商', 'Batterie à l’état solide', 'بطاريات', 'robots 🤖']) {
      const { res, json } = await create(body({ theme: t }));
      expect(res.status).toBe(202);
      expect(json.theme).toBe(t);
      const read = (await (await h.api(`/v1/tasks/${json.id}`)).json()) as any;
      expect(read.theme).toBe(t);
    }
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await h.api('/v1/tasks', { body: JSON.stringify(body()), headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(res.status).toBe(202);
  });

  describe('Idempotency-Key', () => {
    it('gives back the same task for the same key and body, and creates it only once', async () => {
      const payload = body();
      const first = await create(payload, { 'idempotency-key': `same-${seq}` });
      const second = await create(payload, { 'idempotency-key': `same-${seq}` });
      expect(first.res.status).toBe(202);
      expect(second.res.status).toBe(202);
      expect(second.json.id).toBe(first.json.id);
      expect(second.res.headers.get('location')).toBe(`/v1/tasks/${first.json.id}`);
      expect((await allTasks()).filter((t) => t.theme === payload.theme)).toHaveLength(1);
    });

    it('compares the budget by value: "12" and 12.00 are the same request', async () => {
      const key = `by-value-${seq}`;
      const payload = body({ budget: '12' });
      const first = await create(payload, { 'idempotency-key': key });
      const second = await create({ ...payload, budget: 12.0 }, { 'idempotency-key': key });
      const third = await create({ ...payload, budget: '12.00' }, { 'idempotency-key': key });
      expect([first.res.status, second.res.status, third.res.status]).toEqual([202, 202, 202]);
      expect(second.json.id).toBe(first.json.id);
      expect(third.json.id).toBe(first.json.id);
      expect((await allTasks()).filter((t) => t.theme === payload.theme)).toHaveLength(1);
    });

    it('answers 422 idempotency_conflict for the same key with another body, and changes nothing', async () => {
      const key = `conflict-${seq}`;
      const payload = body();
      const first = await create(payload, { 'idempotency-key': key });
      expect(first.res.status).toBe(202);
      for (const other of [{ ...payload, budget: '51.00' }, { ...payload, theme: `${payload.theme} (changed)` }, { ...payload, maxCompanies: 6 }, { ...payload, voiceId: 'alice-voice' }]) {
        const res = await h.api('/v1/tasks', { body: other, headers: { 'idempotency-key': key } });
        expect(res.status).toBe(422);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const problem = (await res.json()) as any;
        expect(problem).toMatchObject({ status: 422, code: 'idempotency_conflict' });
        for (const field of ['type', 'title', 'detail']) expect(typeof problem[field]).toBe('string');
      }
      const stored = (await (await h.api(`/v1/tasks/${first.json.id}`)).json()) as any;
      expect(stored.theme).toBe(payload.theme);
      expect(stored.budget.limit).toBe('50.00');
      expect((await allTasks()).filter((t) => t.theme.startsWith(payload.theme))).toHaveLength(1);
    });

    it('hashes the whole body: maxAge joins it, key order does not matter, a currency stated or defaulted is the same', async () => {
      const key = `whole-${seq}`;
      const payload = body({ maxAge: 3600 });
      const first = await create(payload, { 'idempotency-key': key });
      expect(first.res.status).toBe(202);
      const reordered = Object.fromEntries(Object.entries({ ...payload, currency: 'CNY', maxCompanies: 5 }).reverse());
      const again = await create(reordered, { 'idempotency-key': key });
      expect(again.res.status).toBe(202);
      expect(again.json.id).toBe(first.json.id);
      for (const other of [{ ...payload, maxAge: 0 }, { ...payload, maxAge: undefined }]) {
        const res = await h.api('/v1/tasks', { body: other, headers: { 'idempotency-key': key } });
        expect(res.status).toBe(422);
        expect(((await res.json()) as any).code).toBe('idempotency_conflict');
      }
      expect((await allTasks()).filter((t) => t.theme === payload.theme)).toHaveLength(1);
    });

    it('a key used before the whole body was hashed (four fields) still replays its task', async () => {
      const key = `legacy-${seq}`;
      const payload = body();
      const first = await create(payload, { 'idempotency-key': key });
      // As stored by the gateway before this change: sha256 of [theme, budget in fen, voiceId, maxCompanies].
      const legacy = createHash('sha256').update(JSON.stringify([payload.theme, 5000, payload.voiceId, 5])).digest('hex');
      await h.database.db.updateTable('tasks').set({ request_hash: legacy }).where('id', '=', first.json.id).execute();
      const replay = await create(payload, { 'idempotency-key': key });
      expect(replay.res.status).toBe(202);
      expect(replay.json.id).toBe(first.json.id);
      const changed = await h.api('/v1/tasks', { body: { ...payload, maxAge: 60 }, headers: { 'idempotency-key': key } });
      expect(changed.status).toBe(422);
    });

    it('keeps the maxAge a task was given, and shows it', async () => {
      const { json } = await create(body({ maxAge: 0 }));
      expect(json.maxAge).toBe(0);
      expect((await h.repos.tasks.get(json.id))!.max_age_seconds).toBe(0);
      const plain = await create(body());
      expect(plain.json).not.toHaveProperty('maxAge');
      expect(plain.json.memory).toEqual({ reused: 0, saved: '0.00', currency: 'CNY' });
    });

    it('gives every concurrent retry with one key the same single task', async () => {
      const key = `concurrent-${seq}`;
      const payload = body();
      const answers = await Promise.all(Array.from({ length: 6 }, () => create(payload, { 'idempotency-key': key })));
      expect(answers.map((a) => a.res.status)).toEqual(answers.map(() => 202));
      expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
      expect((await allTasks()).filter((t) => t.theme === payload.theme)).toHaveLength(1);
    });

    it('creates separate tasks for different keys with the same body', async () => {
      const payload = body();
      const a = await create(payload, { 'idempotency-key': `a-${seq}` });
      const b = await create(payload, { 'idempotency-key': `b-${seq}` });
      expect(a.res.status).toBe(202);
      expect(b.res.status).toBe(202);
      expect(b.json.id).not.toBe(a.json.id);
    });

    it('creates separate tasks for the same body without a key', async () => {
      const payload = body();
      const a = await create(payload);
      const b = await create(payload);
      expect(b.json.id).not.toBe(a.json.id);
      expect((await allTasks()).filter((t) => t.theme === payload.theme)).toHaveLength(2);
    });
  });
});
