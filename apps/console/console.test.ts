import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_CSP } from '../../shared/report/html.ts';
import { OPERATOR, VIEWER, WITH_OPERATOR } from '../../test/support/admin.ts';
import { AUTH, openHarness, runningTask, type Harness } from '../../test/support/harness.ts';
import { CONSOLE_CSP } from './csp.ts';

/**
 * The console's pages and files as the gateway serves them (no browser: console.browser.test.ts drives one),
 * and the operators' read-only view of any tenant's task behind the admin login.
 */
let h: Harness;
beforeAll(async () => {
  h = await openHarness({ env: WITH_OPERATOR });
});
afterAll(async () => {
  await h?.close();
});

describe('the console at /console', () => {
  const get = (path: string, headers: Record<string, string> = {}) => h.app.request(path, { headers });

  /** What a page loads or runs: every src/href, every script and style element, inline handlers and style attributes. */
  const audit = (page: string) => ({
    scripts: [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({ attrs: m[1]!.trim(), body: m[2]! })),
    styleElements: (page.match(/<style\b/g) ?? []).length,
    styleAttributes: (page.match(/\sstyle=/g) ?? []).length,
    handlers: page.match(/\son[a-z]+=/g) ?? [],
    urls: [...page.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!),
  });

  it('serves the page under a CSP with no inline script or style, nothing from elsewhere, and no form that may navigate', async () => {
    for (const path of ['/console', '/console/', `/console/tasks/${randomUUID()}`]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const page = await res.text();
      const a = audit(page);
      expect(a.scripts).toEqual([{ attrs: 'type="module" src="/console/console.js"', body: '' }]);
      expect(a.styleElements).toBe(0);
      expect(a.styleAttributes).toBe(0);
      expect(a.handlers).toEqual([]);
      // Same origin only (paths and fragments).
      for (const url of a.urls) expect(url, url).toMatch(/^[/#]/);
      expect(page).toContain('<link rel="stylesheet" href="/console/console.css"/>');
    }
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
      expect(CONSOLE_CSP).toContain(directive);
    }
    expect(CONSOLE_CSP).not.toMatch(/unsafe-|https?:|\*/);
  });

  it('gives the API key field no name and keeps the sign-in button off until the script runs: a key can never be sent in an address', async () => {
    const page = await (await get('/console')).text();
    const input = /<input[^>]*id="api-key"[^>]*>/.exec(page)?.[0];
    expect(input).toBeDefined();
    expect(input).not.toMatch(/\sname=/);
    expect(input).toContain('type="password"');
    expect(/<form id="sign-in-form"[\s\S]*?<button type="submit" class="primary" disabled="">/.test(page)).toBe(true);
  });

  it('escapes whatever the address holds', async () => {
    const res = await get('/console/tasks/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    const page = await res.text();
    expect(audit(page).scripts).toHaveLength(1);
    expect(page).toContain('data-task-id="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it('serves its three files with their types, revalidated by ETag, and nothing else', async () => {
    const types = { 'console.js': 'text/javascript; charset=utf-8', 'console.css': 'text/css; charset=utf-8', 'icon.svg': 'image/svg+xml' };
    for (const [name, type] of Object.entries(types)) {
      const res = await get(`/console/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
      const again = await get(`/console/${name}`, { 'if-none-match': etag });
      expect(again.status).toBe(304);
    }
    for (const path of ['/console/page.tsx', '/console/..%2Froutes.ts', '/console/assets/console.js', '/console/console.lib.test.ts']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });
});

describe("the operators' read-only view of any tenant's task", () => {
  const token = 'tok_console_secret_0123456789';
  let running: string;
  let done: string;
  beforeAll(async () => {
    // A task of another tenant than the harness key's, with money moved: 6.50 paid, 4.00 held.
    running = await runningTask(h, { id: randomUUID(), tenant: 'other', theme: 'batteries <b>bold</b> & "quotes"', budgetLimit: 3000 });
    await h.repos.tasks.setToken(running, token);
    const pay = async (companyId: string, amount: number) =>
      h.repos.payments.reserve({ taskId: running, companyId, tenant: 'other', resource: `/company/detail?id=${companyId}`, amount, key: `${running}:${companyId}` });
    const first = await pay('c1', 650);
    if (first.kind !== 'reserved') throw new Error('fixture: not reserved');
    await h.repos.payments.capture(first.payment.id, 'ch_1');
    await pay('c2', 400);
    // A completed one whose report quotes hostile markup.
    done = await runningTask(h, { id: randomUUID(), tenant: 'other', theme: 'solar', budgetLimit: 1000 });
    await h.repos.reports.save(done, '# Research report: solar\n\n<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n', 'offline');
    await h.repos.tasks.end(done, 'completed');
  });
  const get = (path: string, headers: Record<string, string> = VIEWER) => h.app.request(path, { headers });
  const routes = () => [`/admin/console/tasks/${running}`, `/admin/tasks/${running}`, `/admin/tasks/${running}/events`, `/admin/tasks/${done}/report`];

  it('is behind the admin login: no credentials, a wrong password or a tenant key is a 401 asking for basic auth', async () => {
    for (const path of routes()) {
      for (const headers of [{}, { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` }, AUTH]) {
        const res = await get(path, headers);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    }
    // Either login reads it.
    for (const who of [VIEWER, OPERATOR]) expect((await get(`/admin/tasks/${running}`, who)).status).not.toBe(401);
  });

  it("renders the task page whole from the books — tenant, escaped theme, stages, the bar's segments, companies — under the console's CSP", async () => {
    const res = await get(`/admin/console/tasks/${running}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const page = await res.text();
    expect(page).toContain('data-console="operator"');
    expect(page).toContain(`data-task-id="${running}"`);
    expect(page).toContain('<strong id="task-tenant">other</strong>');
    expect(page).toContain('batteries &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;');
    expect(page).not.toContain('<b>bold</b>');
    expect(page).toMatch(/<li data-stage="detail" class="current" aria-current="step">/);
    // 30.00 budget: 6.50 spent → 217/1000 of the bar; 4.00 reserved → the next 133.
    expect(page).toContain('<rect id="bar-spent" class="seg spent" x="0" y="0" width="217" height="28"></rect>');
    expect(page).toContain('<rect id="bar-reserved" class="seg reserved" x="217" y="0" width="133" height="28"></rect>');
    expect(page).toContain('<dd id="fig-remaining">19.50</dd>');
    expect(page).not.toContain('id="cancel-task"');
    expect(page).not.toContain(token);
  });

  it('answers the task view with its tenant, its story and its report for any tenant; the tenant API still says 404', async () => {
    const view: any = await (await get(`/admin/tasks/${running}`)).json();
    expect(view).toMatchObject({ id: running, tenant: 'other', status: 'running', stage: 'detail', budget: { limit: '30.00', spent: '6.50', reserved: '4.00', remaining: '19.50' } });
    expect(JSON.stringify(view)).not.toContain(token);
    expect((await h.api(`/v1/tasks/${running}`)).status).toBe(404);

    const story: any = await (await get(`/admin/tasks/${running}/events`, { ...VIEWER, accept: 'application/json' })).json();
    expect(story.data.filter((e: any) => e.type === 'payment').map((e: any) => [e.data.companyId, e.data.movement, e.data.amount])).toEqual([
      ['c1', 'reserve', '6.50'],
      ['c1', 'capture', '6.50'],
      ['c2', 'reserve', '4.00'],
    ]);
    expect(JSON.stringify(story)).not.toContain(token);
    // An ended task's story as Server-Sent Events: replayed whole, then the stream closes.
    const sse = await get(`/admin/tasks/${done}/events`, { ...VIEWER, 'last-event-id': '1' });
    expect(sse.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await sse.text();
    expect(text).not.toMatch(/^id: 1$/m);
    expect(text).toMatch(/^event: report_ready$/m);
    expect(text.trimEnd()).toMatch(/event: ended\ndata: .*"status":"completed".*$/);

    expect((await get(`/admin/tasks/${running}/report`)).status).toBe(409);
    const md = await get(`/admin/tasks/${done}/report`);
    expect(md.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    const html = await get(`/admin/tasks/${done}/report`, { ...VIEWER, accept: 'text/html' });
    expect(html.headers.get('content-security-policy')).toBe(REPORT_CSP);
    // Markup in the report is text; no element or link of it survives.
    expect(await html.text()).not.toMatch(/<script|<img|href="javascript/);
  });

  it("embeds a completed task's report in its page as the server sanitised it", async () => {
    const page = await (await get(`/admin/console/tasks/${done}`)).text();
    const report = /<article id="report" class="report">([\s\S]*?)<\/article>/.exec(page)?.[1] ?? '';
    expect(report).toContain('<h1>Research report: solar</h1>');
    expect(report).toContain('<table>');
    expect(report).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(report).not.toMatch(/<script|<img|href="javascript/);
    expect(/<section id="report-section"[^>]*hidden/.test(page)).toBe(false);
  });

  it('refuses what names no task, and a bad position, as problems', async () => {
    for (const path of ['/admin/console/tasks/nope', `/admin/console/tasks/${randomUUID()}`, '/admin/tasks/1', `/admin/tasks/${randomUUID()}/events`, `/admin/tasks/${randomUUID()}/report`]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as any).code).toBe('not_found');
    }
    const bad = await get(`/admin/tasks/${running}/events?after=abc`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).errors).toEqual([{ path: 'after', message: expect.stringContaining('whole number') }]);
    const past = await get(`/admin/tasks/${running}/events`, { ...VIEWER, 'last-event-id': '9999' });
    expect(past.status).toBe(400);
    expect(((await past.json()) as any).errors[0].path).toBe('Last-Event-ID');
  });
});
