import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { serveApp } from '../runtime/serve.ts';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const VIEWER = basic('admin', 'test-admin');
const OPERATOR_PASSWORD = 'test-operator-password';
const OPERATOR = basic('operator', OPERATOR_PASSWORD);
/** What a browser sends with a request from Bull Board's own page (the gateway's own origin). */
const SAME_ORIGIN = { host: 'gw.test', origin: 'http://gw.test', 'sec-fetch-site': 'same-origin' };

/**
 * Bull Board's actions belong to the operator (issue 7, item 2). The admin login (ADMIN_USER /
 * ADMIN_PASSWORD) sees a read-only board: every action is refused and the queues stay as they are.
 * The operator login (ADMIN_OPERATOR_USER / ADMIN_OPERATOR_PASSWORD) sees the board with its actions,
 * and they work as the board's buttons send them. Any write under /admin from another origin is 403,
 * and one whose body is not JSON is 415 — the cross-site `text/plain` POST that added jobs is gone.
 */
describe('Bull Board: read-only for the admin login, actions for the operator only', () => {
  let h: Harness;
  let jobId: string;
  const valid = { theme: 'board security', budget: '10.00', voiceId: 'demo-voice' };

  beforeAll(async () => {
    h = await openHarness({ env: { ADMIN_OPERATOR_PASSWORD: OPERATOR_PASSWORD } });
    const taskId = await postTask(h, valid);
    const [job] = await h.producer.queues.search.getJobs(['waiting']);
    expect(job?.data.taskId).toBe(taskId);
    jobId = job!.id!;
  });
  afterAll(async () => {
    await h?.close();
  });

  const call = (method: string, path: string, headers: Record<string, string>, body?: string) => h.app.request(`/admin/queues/api${path}`, { method, headers, body });
  const json = (value: unknown) => JSON.stringify(value);

  /** Every action Bull Board 9.10 offers, as its page sends it. */
  const actions = () =>
    [
      ['PUT', '/queues/pause'],
      ['PUT', '/queues/resume'],
      ['POST', '/queues/search/add', json({ name: 'injected', data: { taskId: 'x' }, options: {} })],
      ['PUT', '/queues/search/retry/failed'],
      ['PUT', '/queues/search/promote'],
      ['PUT', '/queues/search/clean/waiting'],
      ['PUT', '/queues/search/pause'],
      ['PUT', '/queues/search/resume'],
      ['PUT', '/queues/search/concurrency', json({ concurrency: 1 })],
      ['PUT', '/queues/search/rate-limit', json({ max: 1, duration: 60_000 })],
      ['PUT', '/queues/search/rate-limit/release'],
      ['PUT', '/queues/search/empty'],
      ['PUT', '/queues/search/obliterate'],
      ['PUT', `/queues/search/${jobId}/retry`],
      ['PUT', `/queues/search/${jobId}/clean`],
      ['PUT', `/queues/search/${jobId}/promote`],
      ['PATCH', `/queues/search/${jobId}/update-data`, json({ data: { taskId: 'rewritten' } })],
      ['PATCH', `/queues/search/${jobId}/delay`, json({ delay: 1000 })],
      ['PATCH', `/queues/search/${jobId}/priority`, json({ priority: 1 })],
      ['PUT', `/queues/search/${jobId}/remove-unprocessed-children`],
    ] as Array<[string, string, string?]>;

  /** The state the actions would change: paused flags, job counts, the job's data, the rate limit. */
  async function queueState() {
    const queue = h.producer.queues.search;
    const job = await queue.getJob(jobId);
    return {
      paused: await Promise.all(QUEUE_NAMES.map((q) => h.producer.queues[q].isPaused())),
      counts: await queue.getJobCounts(),
      data: job?.data,
      state: await job?.getState(),
      rateLimit: await queue.getRateLimitTtl(),
    };
  }

  it('the admin login sees every queue in read-only mode', async () => {
    const res = await call('GET', '/queues', VIEWER);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    for (const q of body.queues) expect(q).toMatchObject({ readOnlyMode: true, allowRetries: false });
  });

  it('every action from the admin login is refused with 403, and nothing changes', async () => {
    const before = await queueState();
    for (const [method, path, body] of actions()) {
      const headers = { ...VIEWER, ...SAME_ORIGIN, ...(body ? { 'content-type': 'application/json' } : {}) };
      const res = await call(method, path, headers, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await res.json()) as any, `${method} ${path}`).toMatchObject({ code: 'forbidden' });
    }
    expect(await queueState()).toEqual(before);
  });

  it('the admin login still reads: the queues, their jobs, one job', async () => {
    const list = (await (await call('GET', '/queues?activeQueue=search&status=waiting', VIEWER)).json()) as any;
    expect(list.queues.find((q: any) => q.name === 'search').jobs.map((j: any) => j.id)).toContain(jobId);
    expect((await call('GET', `/queues/search/${jobId}`, VIEWER)).status).toBe(200);
  });

  it('the operator sees the board with its actions, and they work as its buttons send them', async () => {
    const listed = (await (await call('GET', '/queues', OPERATOR)).json()) as any;
    for (const q of listed.queues) expect(q.readOnlyMode).toBe(false);

    // Buttons without a body (axios sends no Content-Type then), from the board's own origin.
    expect((await call('PUT', '/queues/search/pause', { ...OPERATOR, ...SAME_ORIGIN })).status).toBe(200);
    expect(await h.producer.queues.search.isPaused()).toBe(true);
    expect((await call('PUT', '/queues/search/resume', { ...OPERATOR, ...SAME_ORIGIN })).status).toBe(200);
    expect(await h.producer.queues.search.isPaused()).toBe(false);

    // "Add job" sends JSON.
    const before = (await h.producer.queues.dashboard.getJobCounts()).waiting ?? 0;
    const added = await call('POST', '/queues/dashboard/add', { ...OPERATOR, ...SAME_ORIGIN, 'content-type': 'application/json' }, json({ name: 'by-operator', data: {}, options: {} }));
    expect(added.status).toBe(200);
    expect((await h.producer.queues.dashboard.getJobCounts()).waiting).toBe(before + 1);
    await h.producer.queues.dashboard.drain();
  });

  describe('writes from another origin are 403, whoever signs in', () => {
    it.each([
      ['an Origin of another site', { origin: 'https://evil.example' }],
      ['an Origin on another port', { origin: 'http://gw.test:8080' }],
      ['Origin: null (a sandboxed frame)', { origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site', origin: 'http://other.gw.test' }],
    ])('%s', async (_what, headers) => {
      for (const [method, path, body] of actions()) {
        const res = await call(method, path, { ...OPERATOR, host: 'gw.test', ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body);
        expect(res.status, `${method} ${path}`).toBe(403);
      }
      expect(await h.producer.queues.search.isPaused()).toBe(false);
    });
  });

  describe('a write whose body is not JSON is 415', () => {
    it.each([
      ['text/plain (what a cross-site form can send)', 'text/plain'],
      ['a form', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['a JSON look-alike', 'application/json-seq'],
    ])('%s: no job is added', async (_what, type) => {
      const before = await h.producer.queues.search.getJobCounts();
      const res = await call('POST', '/queues/search/add', { ...OPERATOR, 'content-type': type }, json({ name: 'csrf', data: { taskId: 'x' }, options: {} }));
      expect(res.status).toBe(415);
      expect(((await res.json()) as any).code).toBe('unsupported_media_type');
      expect(await h.producer.queues.search.getJobCounts()).toEqual(before);
    });

    it('a text/plain PUT does not pause a queue', async () => {
      expect((await call('PUT', '/queues/search/pause', { ...OPERATOR, 'content-type': 'text/plain' }, 'x')).status).toBe(415);
      expect(await h.producer.queues.search.isPaused()).toBe(false);
    });
  });

  it("a control character in a query value, or NUL in a body, is a 400 naming it (not Bull Board's 500)", async () => {
    for (const query of ['status=%00', 'activeQueue=search&status=%00', 'activeQueue=search&page=%01', 'jobsPerPage=%1b']) {
      const res = await call('GET', `/queues?${query}`, VIEWER);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as any).code, query).toBe('validation_failed');
    }
    const before = await queueState();
    const res = await call('PUT', '/queues/search/rate-limit', { ...OPERATOR, ...SAME_ORIGIN, 'content-type': 'application/json' }, '{"max":"\\u0000","duration":1}');
    expect(res.status).toBe(400);
    expect(await queueState()).toEqual(before);
  });

  it('without ADMIN_OPERATOR_PASSWORD nobody can act: the operator login does not exist', async () => {
    const other = await openHarness();
    try {
      for (const password of ['', 'anything', OPERATOR_PASSWORD]) {
        expect((await other.app.request('/admin/queues/api/queues/search/pause', { method: 'PUT', headers: basic('operator', password) })).status).toBe(401);
      }
      expect((await other.app.request('/admin/queues/api/queues/search/pause', { method: 'PUT', headers: VIEWER })).status).toBe(403);
      expect(await other.producer.queues.search.isPaused()).toBe(false);
    } finally {
      await other.close();
    }
  });

  it("over HTTP, the board's own origin may act and another may not", async () => {
    const server = await serveApp(h.app, 0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const put = (origin: string) => fetch(`${base}/admin/queues/api/queues/search/pause`, { method: 'PUT', headers: { ...OPERATOR, origin } });
      expect((await put('https://evil.example')).status).toBe(403);
      expect(await h.producer.queues.search.isPaused()).toBe(false);
      expect((await put(base)).status).toBe(200);
      expect(await h.producer.queues.search.isPaused()).toBe(true);
      await h.producer.queues.search.resume();
    } finally {
      await server.close();
    }
  });
});
