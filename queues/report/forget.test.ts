import { toString } from 'mdast-util-to-string';
import { describe, expect, it } from 'vitest';
import type { Company, Recalled, Task } from '../../shared/db/index.ts';
import { parseMarkdown } from '../../shared/markdown/parse.ts';
import { highlights } from '../../shared/report/highlights.ts';
import { offlineNarrative } from '../../shared/report/narrative.ts';
import { forgetInReport } from './forget.ts';
import { renderReport, reportCompanies } from './markdown.ts';

const at = new Date('2026-11-01T00:00:00Z');
const task: Task = {
  id: '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d', seq: 1, tenant: 'acme', idempotency_key: null, request_hash: null, theme: 'battery', voice_id: 'demo-voice',
  currency: 'CNY', max_companies: 5, status: 'completed', stage: null, budget_limit: 5000, reserved: 0, captured: 1200, refunded: 0, released: 0,
  token_id: null, token_hint: null, foreign_charged: 0, cancel_requested: false, max_age_seconds: null, error_code: null, error_message: null, created_at: at, updated_at: at, ended_at: at, event_seq: 0, webhook_url: null,
};

/** A record with a controlling shareholder (so "What stands out" names a person) and contacts. */
const record = (holder: string, phone: string) => ({
  name: 'x',
  financials: [{ year: 2022, revenue: '1000000' }, { year: 2023, revenue: '1200000', netProfit: '-5000' }],
  shareholders: [{ name: holder, type: 'person', stakePercent: '70.00' }],
  riskNotes: ['Equity of a major shareholder pledged as collateral.'],
  contacts: { phone },
});

function company(id: string, name: string, detail: Record<string, unknown>): Company {
  return {
    task_id: task.id, company_id: id, rank: 1, name, industry: 'Batteries', city: 'Hefei', price: 600, relevance: 1, status: 'bought', basic: {}, detail,
    receipt_id: `rcpt-${id}`, error_code: null, error_message: null, decision_action: 'buy', decision_reason: 'picked', decision_by: 'rules', updated_at: at,
  };
}

function report() {
  const companies = [company('co_keep', 'Keep Co', record('Wang Fang', '+86 551 0001')), company('co_gone', 'Gone Co', record('Li Na', '+86 551 0002'))];
  const retrieved: Recalled[] = [
    {
      id: 1, companyId: 'co_old', provider: 'marketplace', resource: '/company/detail?id=co_old', name: 'Old Co', industry: 'Batteries', city: 'Hefei', pricePaid: 500, currency: 'CNY',
      receiptId: 'rcpt-old', paymentId: 9, taskId: task.id, boughtAt: at, ageSeconds: 86_400, rank: 0.3, fields: record('Zhao Lei', '+86 551 0003'),
    },
  ];
  const rcs = reportCompanies(companies, retrieved);
  return renderReport({
    task, companies, retrieved, payments: [], ledger: [], narrative: offlineNarrative(task.theme, rcs, highlights(rcs)), writer: 'offline',
    model: { calls: 0, inputTokens: 0, outputTokens: 0, costMicroUsd: 0, unpriced: 0 }, queries: ['battery'], marketplaceUrl: 'http://127.0.0.1:9',
  });
}

describe('forgetInReport: a forgotten record leaves the stored report', () => {
  it("keeps the section's heading with a note, drops the record's people and contacts, and keeps the other records whole", () => {
    const before = report();
    for (const person of ['Li Na', 'Wang Fang', 'Zhao Lei', '+86 551 0002']) expect(before).toContain(person);
    const after = forgetInReport(before, 'co_gone', new Date('2026-11-29T10:00:00Z'))!;
    expect(after).toBeDefined();
    const text = toString(parseMarkdown(after));
    expect(text).not.toContain('Li Na');
    expect(text).not.toContain('+86 551 0002');
    expect(text).toContain("company_detail: Gone Co (co_gone)Record removed at the tenant's request on 2026-11-29: its fields are no longer kept.");
    // The others are untouched: their sections and what stands out about them.
    for (const kept of ['Wang Fang', '+86 551 0001', 'Zhao Lei', '+86 551 0003']) expect(text).toContain(kept);
    expect(after).toMatch(/Keep Co has concentrated ownership: Wang Fang holds 70\.00%/);
    // The skeleton is the same: every section and record heading stays; only the forgotten record's parts go.
    const headings = (md: string, depth: number) => md.split('\n').filter((l) => new RegExp(`^#{1,${depth}} `).test(l));
    expect(headings(after, 3)).toEqual(headings(before, 3));
    expect(headings(before, 4).length - headings(after, 4).length).toBe(4);
  });

  it('works on a record owned earlier too, and says so when a report holds nothing of the company', () => {
    const after = forgetInReport(report(), 'co_old', at)!;
    expect(after).not.toContain('Zhao Lei');
    expect(after).toContain('Li Na');
    expect(forgetInReport(report(), 'co_unknown', at)).toBeUndefined();
    // Forgotten already: nothing more to do.
    expect(forgetInReport(after, 'co_old', at)).toBeUndefined();
    // An id that only ends like another one's is not that one.
    expect(forgetInReport(report(), 'gone', at)).toBeUndefined();
  });
});
