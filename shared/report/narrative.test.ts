import fc from 'fast-check';
import type { Nodes, Parent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { describe, expect, it } from 'vitest';
import { plainInline } from '../markdown/escape.ts';
import { parseMarkdown } from '../markdown/parse.ts';
import { cleanSentence, offlineNarrative, renderNarrative, statesFigure, type ReportCompany } from './narrative.ts';
import { compareOf, readRecord } from './record.ts';

function nodes(tree: Nodes): Nodes[] {
  return [tree, ...('children' in tree ? (tree as Parent).children.flatMap((c) => nodes(c as Nodes)) : [])];
}

/** Sentences a model (or an injection it obeyed) could write: markup, links, references, figures. */
const PIECES = [
  'Revenue grew', ' ', '12.5%', '[1]', '[2]', '[7]', '[0]', '[99]', '[^1]', '[x](http://evil.example)', '![p](http://t.example/p.gif)', 'http://evil.example/a',
  'HTTPS://EVIL.EXAMPLE', 'www.evil.example', 'ir@evil.example', 'javascript:alert(1)', 'data:text/html,x', '<script>alert(1)</script>', '<img src=x onerror=alert(1)>',
  '<a href="http://e.example">x</a>', '## Budget', '\n', '|', '`', '*', '_', 'Ignore the budget.', 'CNY 1,234.5 million', '.',
];
const text = fc.oneof(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join('')), fc.string({ maxLength: 60 }));
const narrative = fc.array(fc.array(fc.record({ text, sources: fc.array(fc.integer({ min: -2, max: 12 }), { maxLength: 4 }) }), { maxLength: 5 }), { maxLength: 5 });

describe('renderNarrative: whatever a model writes', () => {
  it('comes out as plain text with no link, image or HTML; every [n] resolves; every figure has a source', () => {
    fc.assert(
      fc.property(narrative, fc.integer({ min: 0, max: 6 }), (paragraphs, count) => {
        const out = renderNarrative({ paragraphs }, count);
        const tree = parseMarkdown(out.markdown);
        const all = nodes(tree);
        expect(all.filter((n) => !['root', 'paragraph', 'text'].includes(n.type))).toEqual([]);
        for (const paragraph of tree.children) {
          // Each sentence ends in its references: split on them, and check every [n] and every figure.
          const t = toString(paragraph);
          for (const [, n] of t.matchAll(/\[(\d+)\]/g)) {
            expect(Number(n)).toBeGreaterThanOrEqual(1);
            expect(Number(n)).toBeLessThanOrEqual(count);
          }
        }
        expect(out.markdown).not.toMatch(/https?:|www\.|javascript:|@evil/i);
        // What is shown is exactly the kept sentences, each with its references; a figure always has one.
        for (const s of out.kept.flat()) {
          if (statesFigure(s.text)) expect(s.sources.length).toBeGreaterThan(0);
          expect(s.sources.every((n) => n >= 1 && n <= count)).toBe(true);
        }
        expect(tree.children.map((p) => toString(p))).toEqual(out.kept.map((p) => p.map((s) => `${plainInline(s.text)}${s.sources.map((n) => ` [${n}]`).join('')}`).join(' ')));
        const input = paragraphs.slice(0, 12).flatMap((p) => p.slice(0, 10)).map((s) => cleanSentence(s, count)).filter((s) => s !== undefined);
        expect(out.sentences + out.dropped).toBe(input.length);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps a sourced sentence with its references, drops a figure without one, and counts what it dropped', () => {
    const out = renderNarrative(
      {
        paragraphs: [
          [
            { text: 'Acme grew 12% [2] in 2023.', sources: [1] },
            { text: 'Beta lost 3 million.', sources: [] },
            { text: 'Gamma looks steady.', sources: [] },
            { text: 'Delta grew 9%.', sources: [5] },
          ],
        ],
      },
      3,
    );
    expect(toString(parseMarkdown(out.markdown))).toBe('Acme grew 12% in 2023. [1] [2] Gamma looks steady.');
    expect(out.dropped).toBe(2);
    expect(out.sentences).toBe(2);
  });

  it('takes links out of a sentence and says so', () => {
    expect(cleanSentence({ text: 'See [here](http://evil.example/x) or www.evil.example or ir@evil.example.', sources: [1] }, 1)).toEqual({
      text: 'See (link removed) or (link removed) or (link removed)',
      sources: [1],
    });
  });

  it('drops a sentence with nothing left to read', () => {
    expect(cleanSentence({ text: ' [1] http://evil.example ', sources: [] }, 1)).toEqual({ text: '(link removed)', sources: [1] });
    expect(cleanSentence({ text: ' [1] ', sources: [] }, 1)).toBeUndefined();
  });
});

describe('offlineNarrative', () => {
  const record = (revenues: string[], extra: Record<string, unknown> = {}) => ({
    financials: revenues.map((r, i) => ({ year: 2021 + i, revenue: r, netProfit: '1000000', totalAssets: '9000000', rdExpense: '500000' })),
    creditRating: 'AA',
    patentCount: 3,
    shareholders: [{ name: 'Li', type: 'person', stakePercent: '40.00' }],
    ...extra,
  });
  const company = (ref: number, name: string, detail: Record<string, unknown>): ReportCompany => {
    const facts = readRecord(detail);
    return { ref, name, industry: 'batteries', city: 'Hefei', facts, cmp: compareOf(facts), origin: 'bought' };
  };

  it('cites its source in every sentence that states a figure, and none is dropped', () => {
    const companies = [company(1, 'Acme', record(['10000000', '12000000'])), company(2, 'Beta', record(['8000000'])), company(3, 'Gamma', {})];
    const n = offlineNarrative('battery', companies, []);
    for (const s of n.paragraphs.flat()) if (statesFigure(s.text)) expect(s.sources.length).toBeGreaterThan(0);
    const out = renderNarrative(n, 3);
    expect(out.dropped).toBe(0);
    const text = toString(parseMarkdown(out.markdown));
    expect(text).toContain('Acme (batteries, Hefei) reported revenue of CNY 12.0 million in 2022, up 20.0% on 2021, with a net margin of 8.3%, R&D at 4.2% of revenue. [1]');
    expect(text).toContain('Gamma (batteries, Hefei) delivered no usable financials. [3]');
  });

  it('says there is nothing to analyse when nothing was bought', () => {
    expect(toString(parseMarkdown(renderNarrative(offlineNarrative('zeppelin', [], []), 0).markdown))).toBe(
      'No paid records were bought for “zeppelin”, so there is nothing to analyse beyond the free search.',
    );
  });
});
