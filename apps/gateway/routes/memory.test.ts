import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDetail } from '../../../queues/detail/processor.ts';
import { processReport } from '../../../queues/report/processor.ts';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../../../test/support/stages.ts';

/**
 * The memory API (issue 11): ask the tenant's memory, read one record with its fields, forget a company.
 * Every call is scoped to the key's tenant; bad input is a 4xx naming the problem.
 */
let h: Harness;
const OTHER = { authorization: 'Bearer other-key' };
/** Tasks run to their report: the tenant's memory holds what they bought. */
let semis: { taskId: string; companyIds: string[] };
let robots: { taskId: string; companyIds: string[] };

async function runTask(theme: string, maxCompanies: number, headers?: Record<string, string>) {
  const t = await readyForDetail(h, { theme, maxCompanies, budget: '200.00', headers });
  for (const companyId of t.companyIds) await processDetail({ taskId: t.taskId, companyId }, h.deps, FIRST_ATTEMPT);
  await processReport({ taskId: t.taskId }, h.deps, FIRST_ATTEMPT);
  return t;
}

beforeAll(async () => {
  h = await openHarness();
  semis = await runTask('semiconductor', 3);
  robots = await runTask('robotics', 2);
  await runTask('semiconductor', 1, OTHER);
});
afterAll(async () => h?.close());

/** A 400 validation_failed that names the field. */
async function expectInvalid(res: Response, path: string) {
  const problem = await expectProblem(res, 400, 'validation_failed');
  expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
}

const get = async (path: string, headers?: Record<string, string>) => {
  const res = await h.api(path, { headers });
  return { status: res.status, body: (await res.json()) as any, text: '' };
};

describe('GET /v1/memory/companies', () => {
  it("lists the newest record of each company the tenant bought, newest first, with what it paid — and nothing of another tenant's", async () => {
    const { status, body } = await get('/v1/memory/companies');
    expect(status).toBe(200);
    const ids = body.data.map((r: any) => r.companyId);
    expect([...ids].sort()).toEqual([...semis.companyIds, ...robots.companyIds].sort());
    // Newest first: the robotics task bought last.
    expect(robots.companyIds).toContain(ids[0]);
    const first = body.data[0];
    expect(Object.keys(first).sort()).toEqual(['ageSeconds', 'boughtAt', 'city', 'companyId', 'currency', 'industry', 'name', 'pricePaid', 'receiptId', 'taskId'].sort());
    expect(first.taskId).toBe(robots.taskId);
    const company = (await h.repos.companies.get(robots.taskId, first.companyId))!;
    expect(first).toMatchObject({ name: company.name, industry: company.industry, pricePaid: (company.price / 100).toFixed(2), currency: 'CNY', receiptId: company.receipt_id });
    expect(Number.isInteger(first.ageSeconds) && first.ageSeconds >= 0).toBe(true);
    expect(body.nextCursor).toBeUndefined();

    const theirs = await get('/v1/memory/companies', OTHER);
    expect(theirs.body.data).toHaveLength(1);
    expect(theirs.body.data[0].taskId).not.toBe(semis.taskId);
  });

  it('with q: the best match first, only what matches', async () => {
    const { body } = await get('/v1/memory/companies?q=semiconductors');
    expect(body.data.map((r: any) => r.companyId).sort()).toEqual([...semis.companyIds].sort());
    const robotic = await get(`/v1/memory/companies?q=${encodeURIComponent('robotics -semiconductor')}`);
    expect(robotic.body.data.map((r: any) => r.companyId).sort()).toEqual([...robots.companyIds].sort());
  });

  it('pages with an opaque cursor, neither skipping nor repeating, with or without q', async () => {
    for (const q of ['', '&q=semiconductor']) {
      const all = (await get(`/v1/memory/companies?limit=100${q}`)).body.data.map((r: any) => r.companyId);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const { status, body } = await get(`/v1/memory/companies?limit=2${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(status).toBe(200);
        seen.push(...body.data.map((r: any) => r.companyId));
        cursor = body.nextCursor;
        // Opaque: it does not show where it points.
        if (cursor) expect(cursor).not.toContain('m1:');
      } while (cursor);
      expect(seen).toEqual(all);
    }
  });

  it('a cursor is for its own tenant and its own query: anything else is a 400 naming cursor', async () => {
    const { body } = await get('/v1/memory/companies?limit=1');
    const cursor = encodeURIComponent(body.nextCursor);
    await expectInvalid(await h.api(`/v1/memory/companies?limit=1&cursor=${cursor}`, { headers: OTHER }), 'cursor');
    await expectInvalid(await h.api(`/v1/memory/companies?limit=1&q=robotics&cursor=${cursor}`), 'cursor');
    await expectInvalid(await h.api('/v1/memory/companies?cursor=m1:5'), 'cursor');
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=1e1', 'limit'],
    ['limit=abc', 'limit'],
    [`q=${'x'.repeat(201)}`, 'q'],
    ['q=%0Abattery', 'q'],
    ['q=%20%20', 'q'],
  ])('refuses %s with a 400 naming %s', async (query, path) => {
    await expectInvalid(await h.api(`/v1/memory/companies?${query}`), path);
  });

  it('a query full of search syntax is a search, never an error', async () => {
    for (const q of ['"unclosed', '!!& | ()', 'or or -', "'; drop table memory_records; --", '\\\\*:']) {
      const { status, body } = await get(`/v1/memory/companies?q=${encodeURIComponent(q)}`);
      expect(status).toBe(200);
      expect(Array.isArray(body.data)).toBe(true);
    }
  });
});

describe('GET /v1/memory/companies/:companyId', () => {
  it('the newest record with its fields, where it came from and how many purchases the tenant holds', async () => {
    const companyId = semis.companyIds[0]!;
    const { status, body } = await get(`/v1/memory/companies/${companyId}`);
    expect(status).toBe(200);
    const company = (await h.repos.companies.get(semis.taskId, companyId))!;
    expect(body).toMatchObject({ companyId, taskId: semis.taskId, provider: 'marketplace', resource: `/company/detail?id=${companyId}`, records: 1, receiptId: company.receipt_id });
    expect(body.fields).toEqual(company.detail);
    // The receipt itself (the proof that fetches the record) is never shown.
    const [payment] = await h.repos.payments.forTask(semis.taskId).then((ps) => ps.filter((p) => p.company_id === companyId));
    const proof = h.repos.payments.receiptOf(payment!);
    if (proof) expect(JSON.stringify(body)).not.toContain(proof);
  });

  it("another tenant's company, an unknown one, or an id that cannot be one is a 404", async () => {
    await expectProblem(await h.api(`/v1/memory/companies/${robots.companyIds[0]}`, { headers: OTHER }), 404, 'not_found');
    await expectProblem(await h.api('/v1/memory/companies/co_nobody'), 404, 'not_found');
    await expectProblem(await h.api('/v1/memory/companies/a%00b'), 404, 'not_found');
    await expectProblem(await h.api(`/v1/memory/companies/${'x'.repeat(600)}`), 404, 'not_found');
  });
});

describe('DELETE /v1/memory/companies/:companyId', () => {
  it("forgets the company: its records, the task's copy and its section of the report go; the money stays; another tenant's copy stays", async () => {
    const companyId = semis.companyIds[1]!;
    const detail = (await h.repos.companies.get(semis.taskId, companyId))!.detail as any;
    const holder = detail.shareholders[0].name as string;
    const before = (await h.repos.reports.get(semis.taskId))!.markdown;
    expect(before).toContain(holder);
    const ledger = await h.repos.payments.ledger(semis.taskId);
    const otherTenantHad = (await h.repos.memory.newest('other', semis.companyIds[0]!)) !== undefined;

    const res = await h.api(`/v1/memory/companies/${companyId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ companyId, forgotten: { records: 1, taskCopies: 1, reports: 1 } });

    await expectProblem(await h.api(`/v1/memory/companies/${companyId}`), 404, 'not_found');
    expect((await h.repos.companies.get(semis.taskId, companyId))!).toMatchObject({ detail: null, status: 'bought' });
    const after = (await h.repos.reports.get(semis.taskId))!.markdown;
    expect(after).not.toContain(holder);
    expect(after).toContain("Record removed at the tenant's request");
    expect(await h.repos.payments.ledger(semis.taskId)).toEqual(ledger);
    const view = (await get(`/v1/tasks/${semis.taskId}`)).body;
    expect(view.companies.find((c: any) => c.id === companyId)).toMatchObject({ status: 'bought' });
    expect((await h.repos.memory.newest('other', semis.companyIds[0]!)) !== undefined).toBe(otherTenantHad);

    // Again: nothing left to forget.
    await expectProblem(await h.api(`/v1/memory/companies/${companyId}`, { method: 'DELETE' }), 404, 'not_found');
  });

  it("another tenant cannot forget this tenant's company", async () => {
    const companyId = robots.companyIds[0]!;
    await expectProblem(await h.api(`/v1/memory/companies/${companyId}`, { method: 'DELETE', headers: OTHER }), 404, 'not_found');
    expect(await h.repos.memory.newest('acme', companyId)).toBeDefined();
  });
});
