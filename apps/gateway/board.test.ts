import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';

/**
 * Bull Board at /admin/queues (DESIGN.md §5, §6 ADMIN_USER / ADMIN_PASSWORD): 200 without a redirect,
 * with or without the trailing slash, behind basic auth; its API lists the six queues by their
 * plain names and sees the jobs this system queued.
 */
describe('Bull Board at /admin/queues', () => {
  let h: Harness;
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const admin = basic('admin', 'test-admin');

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => h.app.request(path, { headers, redirect: 'manual' });

  it.each(['/admin/queues', '/admin/queues/'])('GET %s with the admin credentials answers 200 HTML, not a redirect', async (path) => {
    const res = await get(path, admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain('agent-research-pay');
  });

  it("serves the page's own stylesheet and script, so it renders", async () => {
    const html = await (await get('/admin/queues', admin)).text();
    const base = /<base href="([^"]+)"/.exec(html)?.[1] ?? '/admin/queues/';
    const assets = [...html.matchAll(/(?:href|src)="(static\/[^"]+\.(?:css|js))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const res = await get(new URL(asset, `http://x${base}`).pathname, admin);
      expect(res.status, asset).toBe(200);
    }
  });

  describe('basic auth', () => {
    const refused: Array<[string, Record<string, string>]> = [
      ['no credentials', {}],
      ['a wrong password', basic('admin', 'wrong')],
      ['a wrong user', basic('root', 'test-admin')],
      ['an empty password', basic('admin', '')],
      ['the v1 API key as a bearer token', { authorization: `Bearer ${API_KEY}` }],
      ['the v1 API key as basic credentials', basic('acme', API_KEY)],
    ];

    it.each(refused)('refuses %s with 401 on the page, the slash page and the API', async (_what, headers) => {
      for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
        const res = await get(path, headers);
        expect(res.status, path).toBe(401);
        const text = await res.text();
        expect(text).not.toContain('"queues"');
        expect(text).not.toContain('test-admin');
      }
    });

    it('a 401 asks the browser for basic credentials (WWW-Authenticate: Basic)', async () => {
      const res = await get('/admin/queues');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate') ?? '(none)').toMatch(/^Basic\b/i);
    });

    it('refuses actions on the queues without credentials', async () => {
      for (const queue of QUEUE_NAMES) {
        const res = await h.app.request(`/admin/queues/api/queues/${queue}/pause`, { method: 'PUT' });
        expect(res.status).toBe(401);
        expect(await h.producer.queues[queue].isPaused()).toBe(false);
      }
    });
  });

  describe('its API', () => {
    it('/admin/queues/api/queues lists exactly the six queues by their plain names (webhook deliveries among them)', async () => {
      const res = await get('/admin/queues/api/queues', admin);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const json = (await res.json()) as { queues: Array<{ name: string; type: string }> };
      expect(Array.isArray(json.queues)).toBe(true);
      expect(json.queues.map((q) => q.name).sort()).toEqual(['authorize', 'dashboard', 'detail', 'report', 'search', 'webhook']);
      for (const q of json.queues) expect(q.type).toBe('bullmq');
    });

    it("shows the search job a new task queued, on this system's queues", async () => {
      const before = (await (await get('/admin/queues/api/queues', admin)).json()) as any;
      const waitingBefore = before.queues.find((q: any) => q.name === 'search').counts.waiting;
      const id = await postTask(h, { theme: 'board sees me', budget: '10.00', voiceId: 'demo-voice' });
      const after = (await (await get('/admin/queues/api/queues?activeQueue=search&status=waiting', admin)).json()) as any;
      const search = after.queues.find((q: any) => q.name === 'search');
      expect(search.counts.waiting).toBe(waitingBefore + 1);
      expect(search.jobs.map((j: any) => j.data?.taskId)).toContain(id);
    });
  });
});
