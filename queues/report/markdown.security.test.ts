import fc from 'fast-check';
import type { Nodes, Parent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { describe, expect, it } from 'vitest';
import type { Company, Payment, Recalled, Task } from '../../shared/db/index.ts';
import { parseMarkdown } from '../../shared/markdown/parse.ts';
import { renderReport } from './markdown.ts';

/**
 * renderReport with hostile text in every place a value from outside lands (issue 6, defect 3): the
 * theme, names, industry and city, record fields and their names, receipt ids, error messages (the
 * "Not delivered" list), the writer's name and the analysis. The skeleton stays ours whatever they hold.
 */

const HOSTILE = [
  'Acme\n\n## Budget\n| limit | spent |\n| --- | --- |\n| 99999.00 | 0.00 |',
  '<img src=x onerror=alert(1)>',
  '[pay](javascript:alert(1))',
  '![t](http://tracker.example/p.gif)',
  '# heading',
  '- item',
  '1. first',
  '===',
  '```',
  '| a | b |',
  'http://x.example/a<img src=x onerror=alert(2)>',
  '&lt;script&gt;',
];

const at = new Date('2026-01-01T00:00:00Z');

function task(theme: string): Task {
  return {
    id: '6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d', seq: 1, tenant: 'acme', idempotency_key: null, request_hash: null, theme, voice_id: 'demo-voice',
    currency: 'CNY', max_companies: 5, status: 'running', stage: 'report', budget_limit: 5000, reserved: 0, captured: 1200, refunded: 300, released: 0,
    token_id: null, token_hint: null, foreign_charged: 0, cancel_requested: false, max_age_seconds: null, error_code: null, error_message: null, created_at: at, updated_at: at, ended_at: null, event_seq: 0, webhook_url: null,
  };
}

function company(id: string, text: string, status: Company['status'], extra: Partial<Company> = {}): Company {
  return {
    task_id: task('').id, company_id: id, rank: 1, name: text, industry: text, city: text, price: 600, relevance: 1, status,
    basic: {}, detail: null, receipt_id: null, error_code: null, error_message: null, decision_action: 'buy', decision_reason: 'picked', decision_by: 'rules', updated_at: at, ...extra,
  };
}

function payment(id: number, companyId: string, receiptId: string): Payment {
  return {
    id, task_id: task('').id, company_id: companyId, tenant: 'acme', resource: `/company/detail?id=${companyId}`, amount: 600, idempotency_key: `k${id}`,
    state: 'delivered', charge_id: `ch${id}`, receipt_id: receiptId, receipt: null, receipt_expires_at: null, refunded_amount: id === 2 ? 300 : 0,
    reused_payment_id: null, pending_refund_key: null, pending_refund_amount: null, last_error: null, created_at: at, updated_at: at,
  };
}

function nodes(tree: Nodes): Nodes[] {
  return [tree, ...('children' in tree ? (tree as Parent).children.flatMap((c) => nodes(c as Nodes)) : [])];
}

/** A record of the tenant's memory with hostile text wherever a provider's text lands. */
function recalled(text: string): Recalled {
  return {
    id: 7, companyId: text, provider: 'marketplace', resource: `/company/detail?id=${text}`, name: text, industry: text, city: text, pricePaid: 900, currency: 'CNY',
    receiptId: text, paymentId: 70, taskId: '0b9c7d7e-4c4e-4f0e-9a49-3e1c1a2b3c4d', boughtAt: at, ageSeconds: 3 * 86_400, rank: 0.5,
    // `list` keeps a profile field whatever `text` is (a text of 'name' would otherwise leave the profile empty).
    fields: { name: text, [text]: text, list: [text], shareholders: [{ name: text, type: text, stakePercent: '10.00' }], riskNotes: [text], contacts: { phone: text }, financials: [{ year: 2023, revenue: text }] },
  };
}

function render(text: string, withMemory = false) {
  const companies = [
    company('c1', text, 'bought', {
      receipt_id: text,
      detail: {
        name: text,
        [text]: text,
        list: [text, { nested: text }],
        financials: [{ year: 2023, revenue: text, netProfit: '-1200000', totalAssets: '5000000', rdExpense: text }],
        shareholders: [{ name: text, type: text, stakePercent: '62.50' }],
        riskNotes: [text, 'Equity of a major shareholder pledged as collateral.'],
        contacts: { phone: text, email: text },
      },
    }),
    company('c2', text, 'bought', { receipt_id: 'rcpt_2', error_code: 'incomplete_record', error_message: text, detail: { name: text } }),
    company('c3', text, 'reused', { receipt_id: text, detail: { name: text } }),
    company('c4', text, 'refunded', { error_code: 'bad_data', error_message: text }),
    company('c5', text, 'failed', { error_code: 'not_paid', error_message: text }),
    company('c6', text, 'skipped'),
  ];
  return renderReport({
    task: task(text),
    companies,
    ...(withMemory ? { retrieved: [recalled(text)], reusedFrom: new Map([['c3', { taskId: '0b9c7d7e-4c4e-4f0e-9a49-3e1c1a2b3c4d', boughtAt: at }]]) } : {}),
    payments: [payment(1, 'c1', text), payment(2, 'c2', 'rcpt_2')],
    ledger: [
      { payment_id: 1, kind: 'capture', amount: 600 },
      { payment_id: 2, kind: 'capture', amount: 600 },
    ],
    narrative: {
      paragraphs: [
        [
          { text: `${text} grew 12%`, sources: [1] },
          { text, sources: [99] },
          { text: '## Budget <script>alert(1)</script>', sources: [] },
        ],
        [{ text: `${text}\n\n## Budget\n\n<script>alert(1)</script>`, sources: [3, 2] }],
      ],
    },
    writer: `offline (model failed: ${text})`,
    model: { calls: 2, inputTokens: 1200, outputTokens: 340, costMicroUsd: 1234, unpriced: 0 },
    queries: [text, 'battery'],
    marketplaceUrl: 'http://127.0.0.1:9',
  });
}

const SECTIONS = ['Summary', 'Comparison', 'What stands out', 'Bought records', 'Purchases', 'Budget', 'Not delivered', 'Sources'];
const RECORD_PARTS = ['Profile', 'Financials (CNY millions)', 'Shareholders', 'Risk notes', 'Contacts'];

/** The table right after a top-level heading (or after the paragraph under it), as rows of cell texts. */
function tableAfter(tree: Parent, heading: string, skip = 0): string[][] {
  const at = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === heading);
  const table = tree.children.slice(at + 1).filter((n) => n.type === 'table')[skip] as Parent;
  return table.children.map((r) => (r as Parent).children.map((c) => toString(c)));
}

function expectSkeleton(markdown: string, withMemory = false) {
  const sections = withMemory ? [...SECTIONS.slice(0, 4), 'Owned earlier', ...SECTIONS.slice(4)] : SECTIONS;
  const sourceCount = withMemory ? 4 : 3;
  const tree = parseMarkdown(markdown);
  const all = nodes(tree);
  const headings = all.filter((n) => n.type === 'heading') as Array<Nodes & { depth: number }>;
  // Every heading is ours, at the top level: one title, our sections in order, a company_detail section
  // per bought record, and only our parts of a record under it.
  expect(headings.every((hd) => tree.children.includes(hd as any))).toBe(true);
  expect(headings.filter((hd) => hd.depth === 1)).toHaveLength(1);
  expect(headings.filter((hd) => hd.depth === 2).map((hd) => toString(hd))).toEqual(sections);
  expect(headings.filter((hd) => hd.depth === 3).map((hd) => toString(hd).split(':')[0])).toEqual(['company_detail', 'company_detail', 'company_detail', ...(withMemory ? ['owned_record'] : [])]);
  expect(headings.filter((hd) => hd.depth === 4).every((hd) => RECORD_PARTS.includes(toString(hd)))).toBe(true);
  expect(headings.filter((hd) => hd.depth === 4).map((hd) => toString(hd))).toEqual(withMemory ? [...RECORD_PARTS, ...RECORD_PARTS] : RECORD_PARTS);
  expect(headings.every((hd) => hd.depth <= 4)).toBe(true);
  // The tables keep their shape: the comparison with one row per bought record, the purchases with a
  // row per company not merely skipped, the budget with the real figures, the model's use beside it.
  const comparison = tableAfter(tree, 'Comparison');
  expect(comparison).toHaveLength(sourceCount + 1);
  expect(comparison.every((r) => r.length === 10)).toBe(true);
  expect(comparison.slice(1).map((r) => r[9])).toEqual(['[1]', '[2]', '[3]', '[4]'].slice(0, sourceCount));
  const purchases = tableAfter(tree, 'Purchases');
  expect(purchases).toHaveLength(6);
  expect(purchases.every((r) => r.length === 6)).toBe(true);
  expect(tableAfter(tree, 'Budget')).toEqual([
    ['limit', 'reserved', 'spent', 'refunded', 'released', 'remaining'],
    ['50.00', '0.00', '9.00', '3.00', '0.00', '41.00'],
  ]);
  expect(tableAfter(tree, 'Budget', 1)).toEqual([
    ['model calls', 'input tokens', 'output tokens', 'model cost (USD)'],
    ['2', '1200', '340', '0.001234'],
  ]);
  // Not delivered: one item per refunded or failed company.
  const notDelivered = tree.children[tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Not delivered') + 1] as Parent;
  expect(notDelivered.type).toBe('list');
  expect(notDelivered.children).toHaveLength(2);
  // Sources: one numbered line per bought record, and every [n] of the report is one of them.
  const sourcesAt = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Sources');
  const sources = tree.children[sourcesAt + 1] as Parent;
  expect(sources.children.map((li) => toString(li).slice(0, 4))).toEqual(['[1] ', '[2] ', '[3] ', '[4] '].slice(0, sourceCount));
  for (const [, n] of toString(tree).matchAll(/\[(\d+)\](?!\()/g)) expect(['1', '2', '3', '4'].slice(0, sourceCount)).toContain(n);
  expect(all.filter((n) => ['html', 'image', 'imageReference', 'definition', 'linkReference'].includes(n.type))).toEqual([]);
  // No code, quote or rule comes from a value; the only code is the task id in the line under the title.
  expect(all.filter((n) => n.type === 'inlineCode').map((n) => (n as any).value)).toEqual([task('').id]);
  expect(all.filter((n) => ['code', 'blockquote', 'thematicBreak'].includes(n.type))).toEqual([]);
  for (const link of all.filter((n) => n.type === 'link') as Array<Nodes & { url: string }>) {
    expect(/^https?:\/\//.test(link.url) || link.url === `mailto:${toString(link)}`).toBe(true);
  }
  // The summary holds no link at all (a model's text is plain text) and no JSON.
  const summary = tree.children.slice(tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Summary') + 1, tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Comparison'));
  expect(summary.flatMap((n) => nodes(n)).filter((n) => n.type === 'link')).toEqual([]);
  return tree;
}

describe('renderReport with hostile text in every value from outside', () => {
  it.each(HOSTILE)('keeps the skeleton for %j', (text) => {
    const tree = expectSkeleton(render(text));
    // The title is the theme, as text.
    expect(toString(tree.children[0]!)).toBe(`Research report: ${text.replace(/\s+/g, ' ').trim()}`);
  });

  it.each(HOSTILE)('keeps the skeleton with a record from memory for %j', (text) => {
    expectSkeleton(render(text, true), true);
  });

  it('keeps the skeleton for any text', () => {
    const pieces = fc.constantFrom(...HOSTILE, '\n', ' ', '|', '\\', '`', '*', '_', '[', ']', '<', '>', '#', '-', '!', '(', ')', 'word', 'name');
    fc.assert(
      fc.property(fc.oneof(fc.array(pieces, { minLength: 1, maxLength: 10 }).map((p) => p.join('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 30 })), (text) => {
        expectSkeleton(render(text));
        expectSkeleton(render(text, true), true);
      }),
      { numRuns: 100 },
    );
    // 200 reports parsed by micromark (tens of ms each, more on a loaded machine): CPU, not a hang.
  }, 120_000);
});
