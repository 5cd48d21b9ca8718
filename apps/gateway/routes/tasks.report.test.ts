import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, postTask, waitForEnd, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * GET /v1/tasks/:id/report (DESIGN.md §5): 409 report_not_ready until the task has completed, then
 * the report as text/markdown — with one company_detail section per bought record.
 */
describe('GET /v1/tasks/:id/report', () => {
  let h: Harness;
  const other = { authorization: 'Bearer other-key' };

  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A task stored but never queued, so the workers leave it as it is. */
  async function storedTask(theme: string): Promise<string> {
    const id = randomUUID();
    const created = await h.repos.tasks.create({
      id,
      tenant: 'acme',
      idempotency_key: null,
      request_hash: null,
      theme,
      voice_id: 'demo-voice',
      currency: 'CNY',
      max_companies: 5,
      status: 'queued',
      stage: null,
      budget_limit: 5000,
      token_id: null,
      error_code: null,
      error_message: null,
      ended_at: null,
    });
    expect(created.kind).toBe('created');
    return id;
  }

  it('answers 409 report_not_ready while the task is queued', async () => {
    const id = await storedTask('not started');
    await expectProblem(await h.api(`/v1/tasks/${id}/report`), 409, 'report_not_ready');
  });

  it('answers 409 report_not_ready while the task is running', async () => {
    const id = await storedTask('half way');
    await h.repos.tasks.enterStage(id, 'detail');
    await expectProblem(await h.api(`/v1/tasks/${id}/report`), 409, 'report_not_ready');
  });

  it('answers 409 report_not_ready for a task that failed', async () => {
    const id = await postTask(h, { theme: 'battery', budget: '20.00', voiceId: 'unknown-voice' });
    const task = await waitForEnd(h, id);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('voice_not_verified');
    await expectProblem(await h.api(`/v1/tasks/${id}/report`), 409, 'report_not_ready');
  });

  it('answers 404 for an unknown task and for an id that is not a UUID', async () => {
    await expectProblem(await h.api('/v1/tasks/6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d/report'), 404, 'not_found');
    await expectProblem(await h.api('/v1/tasks/not-a-uuid/report'), 404, 'not_found');
  });

  describe('a completed task', () => {
    let id: string;
    let task: any;

    beforeAll(async () => {
      id = await postTask(h, { theme: 'battery', budget: '50.00', voiceId: 'demo-voice', maxCompanies: 3 });
      task = await waitForEnd(h, id);
    });

    it('answers 200 text/markdown with the stored report', async () => {
      expect(task.status).toBe('completed');
      const res = await h.api(`/v1/tasks/${id}/report`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/markdown/);
      const markdown = await res.text();
      expect(markdown).toBe((await h.repos.reports.get(id))!.markdown);
      expect(markdown).toContain(task.theme);
    });

    it('holds one company_detail section per bought record, with its receipt', async () => {
      const markdown = await (await h.api(`/v1/tasks/${id}/report`)).text();
      const bought = task.companies.filter((c: any) => c.status === 'bought' || c.status === 'reused');
      expect(bought.length).toBeGreaterThan(0);
      for (const c of bought) {
        expect(markdown.split(`company_detail: ${c.name}`)).toHaveLength(2);
        expect(markdown).toContain(c.receiptId);
      }
      expect(markdown.split('company_detail:')).toHaveLength(bought.length + 1);
    });

    it('answers Accept: text/html with the report rendered and sanitised, under a policy that lets nothing run', async () => {
      const res = await h.api(`/v1/tasks/${id}/report`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('vary')).toBe('Accept');
      const html = await res.text();
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain(`<title>Research report: ${task.theme}</title>`);
      expect(html).toContain('<h2>Comparison</h2>');
      expect(html).toContain('<table>');
      for (const c of task.companies.filter((x: any) => x.status === 'bought')) expect(html).toContain(`<h3>company_detail: ${c.name} (${c.id})</h3>`);
      expect(html).not.toMatch(/<script|\son\w+=/i);
    });

    it('negotiates by q-value, and serves markdown by default and to any other Accept', async () => {
      const typeFor = async (accept?: string) => (await h.api(`/v1/tasks/${id}/report`, { headers: accept ? { accept } : {} })).headers.get('content-type');
      expect(await typeFor('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe('text/html; charset=utf-8');
      expect(await typeFor('text/markdown;q=0.5, text/html;q=0.9')).toBe('text/html; charset=utf-8');
      expect(await typeFor('text/html;q=0.2, text/markdown')).toBe('text/markdown; charset=utf-8');
      expect(await typeFor()).toBe('text/markdown; charset=utf-8');
      expect(await typeFor('*/*')).toBe('text/markdown; charset=utf-8');
      expect(await typeFor('application/json')).toBe('text/markdown; charset=utf-8');
    });

    it("is not served to another tenant: 404, and no part of the report leaks", async () => {
      const res = await h.api(`/v1/tasks/${id}/report`, { headers: other });
      const problem = await expectProblem(res, 404, 'not_found');
      expect(JSON.stringify(problem)).not.toContain('company_detail');
    });
  });
});
