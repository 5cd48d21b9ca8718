import type { Parent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../shared/markdown/parse.ts';
import { paymentKey } from '../../shared/db/index.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import type { LanguageModel } from '../../shared/llm/index.ts';
import { formatMicroUsd } from '../../shared/llm/prices.ts';
import { formatMoney } from '../../shared/money.ts';
import { expectBudgetUseOfLedger } from '../../test/support/budget-use.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { processAuthorize } from '../authorize/processor.ts';
import type { JobContext, StageDeps } from '../deps.ts';
import { processDetail } from '../detail/processor.ts';
import { processSearch } from '../search/processor.ts';
import { keywordsOf } from '../../shared/agent/rank.ts';
import { highlights } from '../../shared/report/highlights.ts';
import { offlineNarrative } from '../../shared/report/narrative.ts';
import { renderReport, reportCompanies } from './markdown.ts';
import { processReport } from './processor.ts';
import { statementsSentByKind } from '../../test/support/statements.ts';

const first: JobContext = { attempt: 1, isFinalAttempt: false };
const last: JobContext = { attempt: 8, isFinalAttempt: true };

/**
 * A task brought through search and authorize; detail run by hand for the first `buy` chosen companies
 * (all of them by default). Each test uses its own theme, so no receipt of an earlier test is reused.
 */
async function taskReadyForReport(h: Harness, theme: string, opts: { budget?: string; maxCompanies?: number; buy?: number } = {}) {
  const id = await postTask(h, { theme, budget: opts.budget ?? '60.00', voiceId: 'demo-voice', maxCompanies: opts.maxCompanies ?? 3 });
  await processSearch({ taskId: id }, h.deps, first);
  await processAuthorize({ taskId: id }, h.deps, first);
  const chosen = await h.repos.companies.chosen(id);
  const bought = chosen.slice(0, opts.buy ?? chosen.length);
  for (const c of bought) expect((await processDetail({ taskId: id, companyId: c.company_id }, h.deps, first)).outcome).toBe('bought');
  return { id, chosen, bought };
}

/**
 * The checks every report must pass, whoever wrote its narrative: the Sources list, every [n] resolving to
 * it, the comparison table equal to the records (to the shown decimal), the records as tables and lists,
 * no raw JSON.
 */
async function expectComputedReport(h: Harness, id: string) {
  const md = (await h.repos.reports.get(id))!.markdown;
  const tree = parseMarkdown(md);
  const text = toString(tree);

  // The Sources list: one line per bought record, [n] name — resource, receipt id.
  const companies = (await h.repos.companies.list(id)).filter((c) => c.status === 'bought');
  const sourcesAt = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Sources');
  const sources = (tree.children[sourcesAt + 1] as Parent).children.map((li) => toString(li));
  expect(sources).toEqual(companies.map((c, i) => `[${i + 1}] ${c.name} — ${h.deps.marketplaceUrl}/company/detail?id=${c.company_id}, receipt ${c.receipt_id}`));
  // Every [n] anywhere in the report is one of them.
  const cited = [...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  expect(cited.length).toBeGreaterThan(companies.length);
  for (const n of cited) expect(n >= 1 && n <= companies.length).toBe(true);

  // The comparison table: one row per record, each figure equal to the record's latest year (to the shown decimal).
  const at = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Comparison');
  const table = tree.children.slice(at).find((n) => n.type === 'table') as Parent;
  const rows = table.children.map((r) => (r as Parent).children.map((c) => toString(c)));
  expect(rows[0]).toEqual(['company', 'year', 'revenue', 'growth YoY', 'net margin', 'R&D intensity', 'total assets', 'credit rating', 'patents', 'source']);
  expect(rows).toHaveLength(companies.length + 1);
  companies.forEach((c, i) => {
    const detail = c.detail as any;
    const [prev, latest] = [...detail.financials].sort((a: any, b: any) => a.year - b.year).slice(-2);
    const row = rows[i + 1]!;
    const yuan = (s: string) => BigInt(s);
    // Within half a unit of the last shown digit: millions to 0.1 (50,000 yuan), percentages to 0.1 points.
    const nearMillions = (shown: string, exact: bigint) => {
      const d = BigInt(shown.replace(/[,.]/g, '')) * 100_000n - exact;
      return d >= -50_000n && d <= 50_000n;
    };
    const nearPercent = (shown: string, num: bigint, den: bigint) => {
      const e = BigInt(shown.replace(/[+,.%]/g, '')) * den - num * 1000n;
      return 2n * (e < 0n ? -e : e) <= den;
    };
    expect(row[0]).toBe(c.name);
    expect(row[1]).toBe(String(latest.year));
    expect(nearMillions(row[2]!, yuan(latest.revenue))).toBe(true);
    expect(nearPercent(row[3]!, yuan(latest.revenue) - yuan(prev.revenue), yuan(prev.revenue))).toBe(true);
    expect(row[3]!.startsWith(yuan(latest.revenue) >= yuan(prev.revenue) ? '+' : '-')).toBe(true);
    expect(nearPercent(row[4]!, yuan(latest.netProfit), yuan(latest.revenue))).toBe(true);
    expect(nearPercent(row[5]!, yuan(latest.rdExpense), yuan(latest.revenue))).toBe(true);
    expect(nearMillions(row[6]!, yuan(latest.totalAssets))).toBe(true);
    expect(row[7]).toBe(detail.creditRating);
    expect(row[8]).toBe(detail.patentCount.toLocaleString('en'));
    expect(row[9]).toBe(`[${i + 1}]`);
    // The record's section: financials as a year table, shareholders as a table, risk notes as a list.
    expect(md).toContain(`| ${latest.year} | `);
    for (const s of detail.shareholders) expect(text).toContain(s.name);
    for (const note of detail.riskNotes) expect(text).toContain(note);
    expect(text).toContain(detail.contacts.phone);
  });

  expect(md).not.toMatch(/[{}]|":|\[\{/);
  return { md, text, tree };
}

/**
 * The offline report as the rows of the ended task give it, each table read on its own with the
 * repositories' reads: what the report stage wrote before its reads were folded into one statement.
 */
async function offlineReportFromRows(h: Harness, id: string): Promise<string> {
  const [task, companies, payments, ledger, plan, sources] = await Promise.all([
    h.repos.tasks.get(id),
    h.repos.companies.list(id),
    h.repos.payments.forTask(id),
    h.repos.payments.ledger(id),
    h.repos.agent.planOf(id),
    h.repos.memory.reuseSources([id]),
  ]);
  const own = companies.filter((c) => c.status === 'bought' || c.status === 'reused').map((c) => c.company_id);
  const retrieved = await h.repos.memory.retrieve(task!.tenant, keywordsOf(task!.theme), { exclude: own, limit: h.deps.memory.retrieveLimit });
  const rcs = reportCompanies(companies, retrieved);
  return renderReport({
    task: task!, companies, retrieved, reusedFrom: sources.get(id), payments, ledger,
    narrative: offlineNarrative(task!.theme, rcs, highlights(rcs)), writer: 'offline', model: await h.repos.agent.useOf(id),
    queries: plan?.queries ?? [], marketplaceUrl: h.deps.marketplaceUrl,
  });
}

async function tokenOf(h: Harness, taskId: string) {
  const tokens = await h.deps.providers.issuer.tokensFor(taskId);
  expect(tokens).toHaveLength(1);
  return tokens[0]!;
}

describe('report processor: closes the money, writes the report, completes the task', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('writes one company_detail section per bought record and the purchases table, completes, closes the token', async () => {
    const { id, bought } = await taskReadyForReport(h, 'battery');
    expect(bought.length).toBeGreaterThan(1);

    const out = await processReport({ taskId: id }, h.deps, first);

    const report = (await h.repos.reports.get(id))!;
    expect(report).toBeDefined();
    expect(report.writer).toBe('offline');
    expect(out).toMatchObject({ writer: 'offline', bytes: report.markdown.length });
    const md = report.markdown;
    expect(md.match(/^### company_detail: /gm)).toHaveLength(bought.length);
    const purchases = md.slice(md.indexOf('## Purchases'), md.indexOf('## Budget'));
    expect(purchases).toContain('| company | price (CNY) | receipt id | status | refunded | budget left |');
    for (const c of bought) {
      const company = (await h.repos.companies.get(id, c.company_id))!;
      expect(company.status).toBe('bought');
      expect(company.receipt_id).toBeTruthy();
      expect(md).toContain(`### company_detail: ${company.name} (${company.company_id})`);
      const row = purchases.split('\n').find((l) => l.startsWith(`| ${company.name} |`));
      expect(row).toBeDefined();
      expect(row).toContain(`| ${formatMoney(company.price)} | ${company.receipt_id} | bought |`);
    }

    const task = (await h.repos.tasks.get(id))!;
    expect(task.status).toBe('completed');
    expect(task.stage).toBeNull();
    expect(task.reserved).toBe(0);
    expect(task.captured).toBe(bought.reduce((sum, c) => sum + c.price, 0));
    const token = await tokenOf(h, id);
    expect(token.status).toBe('closed');
    expect(token.balance).toBe(0);
    // Our books and the issuer's agree.
    expect(token.spent).toBe(task.captured - task.refunded);
    expect((await h.repos.payments.forTask(id)).every((p) => p.state === 'delivered')).toBe(true);
    expect(md).toBe(await offlineReportFromRows(h, id));
  });

  it('offline: the comparison table quotes the records, every [n] resolves to a source, no raw JSON, model cost zero', async () => {
    const { id, bought } = await taskReadyForReport(h, 'semiconductor', { maxCompanies: 3 });
    expect(bought.length).toBeGreaterThan(1);
    await processReport({ taskId: id }, h.deps, first);
    const { md, text } = await expectComputedReport(h, id);
    // No raw JSON anywhere; the summary is the offline one, with its sources; the model cost is zero.
    expect(md).not.toMatch(/[{}]|":|\[\{/);
    expect(text).toContain('This summary was written offline');
    expect(md).toContain('| model calls | input tokens | output tokens | model cost (USD) |\n| --- | --- | --- | --- |\n| 0 | 0 | 0 | 0.000000 |');
    expect(md).toContain('model cost 0.000000 USD');
  });

  it('releases a reservation that was never paid when the task ends, and books the release', async () => {
    const { id, chosen } = await taskReadyForReport(h, 'solar', { maxCompanies: 3, buy: 1 });
    expect(chosen.length).toBeGreaterThan(1);
    // The second company was reserved, then its detail job never got as far as paying.
    const unpaid = chosen[1]!;
    const resource = h.deps.providers.marketplace.resourceOf(unpaid.company_id);
    const reserved = await h.repos.payments.reserve({ taskId: id, companyId: unpaid.company_id, tenant: 'acme', resource, amount: unpaid.price, key: paymentKey(id, resource) });
    expect(reserved.kind).toBe('reserved');
    expect((await h.repos.tasks.get(id))!.reserved).toBe(unpaid.price);

    await processReport({ taskId: id }, h.deps, first);

    const payment = (await h.repos.payments.forTask(id)).find((p) => p.company_id === unpaid.company_id)!;
    expect(payment.state).toBe('released');
    const ledger = await h.repos.payments.ledger(id);
    const releases = ledger.filter((l) => l.kind === 'release');
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({ payment_id: payment.id, amount: unpaid.price });
    expect(ledger.filter((l) => l.payment_id === payment.id).map((l) => l.kind)).toEqual(['reserve', 'release']);
    // The release counts in the budget use like every other movement, as it is booked.
    await expectBudgetUseOfLedger(h, id);

    const task = (await h.repos.tasks.get(id))!;
    expect(task.status).toBe('completed');
    expect(task.reserved).toBe(0);
    expect(task.released).toBe(unpaid.price);
    expect(task.captured).toBe(chosen[0]!.price);
    const company = (await h.repos.companies.get(id, unpaid.company_id))!;
    expect(company.status).toBe('skipped');
    // Nothing was charged for it at the issuer.
    const token = await tokenOf(h, id);
    expect(token.status).toBe('closed');
    expect(token.charges).toHaveLength(1);
    expect(token.charges[0]!.description).toBe(h.deps.providers.marketplace.resourceOf(chosen[0]!.company_id));
    const md = (await h.repos.reports.get(id))!.markdown;
    expect(md.match(/^### company_detail: /gm)).toHaveLength(1);
    expect(md).not.toContain(`### company_detail: ${unpaid.name}`);
    // The companies never bought are skipped by the statement that stores the report: the report shows them so.
    const purchases = md.slice(md.indexOf('## Purchases'), md.indexOf('## Budget'));
    expect(purchases.split('\n').find((l) => l.startsWith(`| ${unpaid.name} |`))).toContain(`| ${formatMoney(unpaid.price)} | — | skipped |`);
    const all = await h.repos.companies.list(id);
    expect(all.filter((c) => c.status === 'found')).toEqual([]);
    expect(md).toContain(`(${all.length} candidate(s), ${all.filter((c) => c.status === 'skipped').length} not bought)`);
    // Word for word the report the task's rows give, read table by table.
    expect(md).toBe(await offlineReportFromRows(h, id));
    // The story: the release, a skip per company never bought, the report, the end last.
    const story = (await h.repos.events.since(id, 0)).map((e) => (e.type === 'payment' ? `${e.type}:${e.data.movement}` : e.type));
    const skippedNow = chosen.length - 1;
    expect(story.slice(-(skippedNow + 3))).toEqual(['payment:release', ...Array(skippedNow).fill('decision'), 'report_ready', 'ended']);
  });

  it('costs six statements and no transaction when the money closes cleanly (every record delivered, no webhook)', async () => {
    if (h.database.kind !== 'postgres') return; // statements are counted on the Postgres pool's clients
    const { id } = await taskReadyForReport(h, 'logistics', { maxCompanies: 2 });
    const before = await statementsSentByKind();
    await processReport({ taskId: id }, h.deps, first);
    const after = await statementsSentByKind();
    const sent = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
    // enter the stage; the money left to settle (none); the report's inputs; retrieval; the model use; the
    // statement that stores the report and ends the task.
    expect({ query: sent('query'), begin: sent('begin'), commit: sent('commit') }).toEqual({ query: 6, begin: 0, commit: 0 });
    expect((await h.repos.tasks.get(id))!.status).toBe('completed');
    expect((await h.repos.reports.get(id))?.markdown).toContain('## Purchases');
  });

  it('retries when the language model fails, and on the final attempt writes the report offline', async () => {
    const { id, bought } = await taskReadyForReport(h, 'robotics', { maxCompanies: 2 });
    const failingModel: LanguageModel = {
      name: 'llm:mock-model',
      ask: async () => {
        throw new TransientError('llm_unavailable', 'the language model failed: 503 upstream overloaded');
      },
    };
    const deps: StageDeps = { ...h.deps, model: failingModel };

    await expect(processReport({ taskId: id }, deps, first)).rejects.toBeInstanceOf(TransientError);
    expect(await h.repos.reports.get(id)).toBeUndefined();
    expect((await h.repos.tasks.get(id))!.status).toBe('running');

    const out = await processReport({ taskId: id }, deps, last);

    const report = (await h.repos.reports.get(id))!;
    expect(report).toBeDefined();
    expect(report.writer.startsWith('offline')).toBe(true);
    expect(report.writer).toContain('model failed');
    expect(report.writer).toContain('503 upstream overloaded');
    expect(out).toMatchObject({ writer: report.writer });
    // The bought facts are there whatever happened to the model.
    expect(report.markdown.match(/^### company_detail: /gm)).toHaveLength(bought.length);
    expect((await h.repos.tasks.get(id))!.status).toBe('completed');
    expect((await tokenOf(h, id)).status).toBe('closed');
  });

  it('writes the report offline at once when the model refuses for good (PermanentError: no retry follows)', async () => {
    // What OpenAiWriter throws for a 4xx answer (a wrong key, an unknown model): the job is not retried,
    // so this attempt is the last one; the records were paid for, so the report must still go out.
    const { id, bought } = await taskReadyForReport(h, 'biotech', { maxCompanies: 2 });
    const refusingModel: LanguageModel = {
      name: 'llm:mock-model',
      ask: async () => {
        throw new PermanentError('llm_rejected', 'the language model refused the request: 401 invalid api key');
      },
    };

    const out = await processReport({ taskId: id }, { ...h.deps, model: refusingModel }, first).catch((err: Error) => err);

    expect(out).not.toBeInstanceOf(Error);
    const report = await h.repos.reports.get(id);
    expect(report?.writer.startsWith('offline')).toBe(true);
    expect(report?.writer).toContain('401 invalid api key');
    expect(report?.markdown.match(/^### company_detail: /gm)).toHaveLength(bought.length);
    expect((await h.repos.tasks.get(id))!.status).toBe('completed');
  });

  it('carries out a cancel: the task ends cancelled with no report, its token closed', async () => {
    const { id } = await taskReadyForReport(h, 'fintech', { maxCompanies: 2, buy: 1 });
    expect(await h.repos.tasks.requestCancel(id, 'acme')).toBe(true);

    expect(await processReport({ taskId: id }, h.deps, first)).toEqual({ stopped: 'cancelled' });

    const task = (await h.repos.tasks.get(id))!;
    expect(task.status).toBe('cancelled');
    expect(task.error_code).toBe('cancelled');
    expect(task.reserved).toBe(0);
    expect(await h.repos.reports.get(id)).toBeUndefined();
    const token = await tokenOf(h, id);
    expect(token.status).toBe('closed');
    expect(token.balance).toBe(0);
  });
});

describe('report processor with the LLM stand-in: the model writes the narrative, our code the rest', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ llm: true, env: { LLM_PRICES: '{"mock-model":{"input":"0.15","output":"0.60"}}' } });
  });
  afterAll(async () => h?.close());

  it('the comparison table still quotes the records, every [n] resolves, every figure of the narrative has a source, and the model cost is shown', async () => {
    const { id } = await taskReadyForReport(h, 'solar', { maxCompanies: 3 });
    await processReport({ taskId: id }, h.deps, first);
    const report = (await h.repos.reports.get(id))!;
    expect(report.writer).toBe('llm:mock-model');
    const { md, tree } = await expectComputedReport(h, id);

    // The narrative is the model's: each of its sentences with a figure ends in a reference.
    const start = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Summary');
    const end = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Comparison');
    const summary = tree.children.slice(start + 1, end).map((n) => toString(n));
    expect(summary.join(' ')).toContain('reported revenue of CNY');
    for (const paragraph of summary) {
      // Sentences end in ". [n]" (one or more references) or "." with no figure.
      for (const sentence of paragraph.split(/(?<=\.(?: \[\d+\])*) (?=[A-Z])/)) {
        if (/\d/.test(sentence.replace(/ \[\d+\]/g, ''))) expect(sentence, sentence).toMatch(/\. \[\d+\]$/);
      }
    }

    // Three calls (plan and decide in search, narrate here), priced, shown in the report and the task view.
    const use = await h.repos.agent.useOf(id);
    expect(use.calls).toBe(3);
    const view: any = await (await h.api(`/v1/tasks/${id}`)).json();
    expect(md).toContain(`| 3 | ${use.inputTokens} | ${use.outputTokens} | ${view.model.costUsd} |`);
    expect(view.model.costUsd).toBe(formatMicroUsd(use.costMicroUsd));
    expect(use.costMicroUsd).toBeGreaterThan(0);
  });
});
