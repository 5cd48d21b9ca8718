import fc from 'fast-check';
import type { Nodes, Parent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { describe, expect, it } from 'vitest';
import type { Company, Payment, Task } from '../../shared/db/index.ts';
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
    token_id: null, token_hint: null, foreign_charged: 0, cancel_requested: false, error_code: null, error_message: null, created_at: at, updated_at: at, ended_at: null,
  };
}

function company(id: string, text: string, status: Company['status'], extra: Partial<Company> = {}): Company {
  return {
    task_id: task('').id, company_id: id, rank: 1, name: text, industry: text, city: text, price: 600, relevance: 1, status,
    basic: {}, detail: null, receipt_id: null, error_code: null, error_message: null, updated_at: at, ...extra,
  };
}

function payment(id: number, companyId: string, receiptId: string): Payment {
  return {
    id, task_id: task('').id, company_id: companyId, tenant: 'acme', resource: `/company/detail?id=${companyId}`, amount: 600, idempotency_key: `k${id}`,
    state: 'delivered', charge_id: `ch${id}`, receipt_id: receiptId, receipt: null, receipt_expires_at: null, refunded_amount: id === 2 ? 300 : 0,
    reused_payment_id: null, last_error: null, created_at: at, updated_at: at,
  };
}

function nodes(tree: Nodes): Nodes[] {
  return [tree, ...('children' in tree ? (tree as Parent).children.flatMap((c) => nodes(c as Nodes)) : [])];
}

function render(text: string) {
  const companies = [
    company('c1', text, 'bought', { receipt_id: text, detail: { name: text, [text]: text, list: [text, { nested: text }] } }),
    company('c2', text, 'bought', { receipt_id: 'rcpt_2', error_code: 'incomplete_record', error_message: text, detail: { name: text } }),
    company('c3', text, 'reused', { receipt_id: text, detail: { name: text } }),
    company('c4', text, 'refunded', { error_code: 'bad_data', error_message: text }),
    company('c5', text, 'failed', { error_code: 'not_paid', error_message: text }),
    company('c6', text, 'skipped'),
  ];
  return renderReport({
    task: task(text),
    companies,
    payments: [payment(1, 'c1', text), payment(2, 'c2', 'rcpt_2')],
    ledger: [
      { id: 1, task_id: task('').id, payment_id: 1, kind: 'capture', amount: 600, event_key: 'e1', created_at: at },
      { id: 2, task_id: task('').id, payment_id: 2, kind: 'capture', amount: 600, event_key: 'e2', created_at: at },
    ],
    analysis: `${text}\n\n## Budget\n\n<script>alert(1)</script>`,
    writer: `offline (model failed: ${text})`,
    marketplaceUrl: 'http://127.0.0.1:9',
  });
}

function expectSkeleton(markdown: string) {
  const tree = parseMarkdown(markdown);
  const all = nodes(tree);
  const headings = all.filter((n) => n.type === 'heading') as Array<Nodes & { depth: number }>;
  expect(headings.map((hd) => hd.depth)).toEqual([1, 2, 2, 3, 3, 3, 2, 2, 2, 2]);
  expect(headings.filter((hd) => hd.depth === 2).map((hd) => toString(hd))).toEqual(['Summary', 'Bought records', 'Purchases', 'Budget', 'Not delivered', 'Sources']);
  expect(headings.every((hd) => tree.children.includes(hd as any))).toBe(true);
  // The tables: one per bought record (field | value), the purchases with a row per company not merely
  // skipped, the budget with the real figures.
  // (The analysis, under Summary, may hold a table of its own: count ours, from Bought records on.)
  const tables = tree.children.slice(tree.children.indexOf(headings[2] as any)).filter((n) => n.type === 'table') as Parent[];
  const rows = (t: Parent) => t.children.map((r) => (r as Parent).children.map((c) => toString(c)));
  expect(tables).toHaveLength(5);
  expect(rows(tables[0]!).every((r) => r.length === 2)).toBe(true);
  expect(rows(tables[3]!)).toHaveLength(6);
  expect(rows(tables[3]!).every((r) => r.length === 6)).toBe(true);
  expect(rows(tables[4]!)).toEqual([
    ['limit', 'reserved', 'spent', 'refunded', 'released', 'remaining'],
    ['50.00', '0.00', '9.00', '3.00', '0.00', '41.00'],
  ]);
  // Not delivered: one item per refunded or failed company.
  const notDelivered = tree.children[tree.children.indexOf(headings[8] as any) + 1] as Parent;
  expect(notDelivered.type).toBe('list');
  expect(notDelivered.children).toHaveLength(2);
  expect(all.filter((n) => ['html', 'image', 'imageReference', 'definition'].includes(n.type))).toEqual([]);
  // Outside the analysis (which may quote or show code), no code, quote or rule comes from a value;
  // the only code is the task id in the line under the title.
  const head = tree.children.slice(0, tree.children.indexOf(headings[1] as any)).flatMap((n) => nodes(n));
  const ours = tree.children.slice(tree.children.indexOf(headings[2] as any)).flatMap((n) => nodes(n));
  expect(head.filter((n) => n.type === 'inlineCode').map((n) => (n as any).value)).toEqual([task('').id]);
  expect([...head, ...ours].filter((n) => ['code', 'blockquote', 'thematicBreak'].includes(n.type))).toEqual([]);
  expect(ours.filter((n) => n.type === 'inlineCode')).toEqual([]);
  for (const link of all.filter((n) => n.type === 'link') as Array<Nodes & { url: string }>) {
    expect(/^https?:\/\//.test(link.url) || link.url === `mailto:${toString(link)}`).toBe(true);
  }
  return tree;
}

describe('renderReport with hostile text in every value from outside', () => {
  it.each(HOSTILE)('keeps the skeleton for %j', (text) => {
    const tree = expectSkeleton(render(text));
    // The title is the theme, as text.
    expect(toString(tree.children[0]!)).toBe(`Research report: ${text.replace(/\s+/g, ' ').trim()}`);
  });

  it('keeps the skeleton for any text', () => {
    const pieces = fc.constantFrom(...HOSTILE, '\n', ' ', '|', '\\', '`', '*', '_', '[', ']', '<', '>', '#', '-', '!', '(', ')', 'word');
    fc.assert(
      fc.property(fc.oneof(fc.array(pieces, { minLength: 1, maxLength: 10 }).map((p) => p.join('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 30 })), (text) => {
        expectSkeleton(render(text));
      }),
      { numRuns: 100 },
    );
  });
});
