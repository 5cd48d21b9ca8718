import fc from 'fast-check';
import type { Nodes, Parent, Root } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { describe, expect, it } from 'vitest';
import { escapeInline, md, plainInline } from './escape.ts';
import { parseMarkdown } from './parse.ts';

/** Every node of a tree, depth first. */
function nodes(tree: Nodes): Nodes[] {
  return [tree, ...('children' in tree ? (tree as Parent).children.flatMap((c) => nodes(c as Nodes)) : [])];
}

/**
 * What an escaped value may turn into: plain text, or a link GFM makes of a bare URL or e-mail address
 * in text (its text is the value's own, its target that text).
 */
function expectOnlyText(parent: Nodes) {
  for (const n of nodes(parent).slice(1)) {
    if (n.type === 'text') continue;
    expect(n.type, JSON.stringify(n)).toBe('link');
    if (n.type !== 'link') continue;
    const text = toString(n);
    expect([text, `http://${text}`, `mailto:${text}`], JSON.stringify(n)).toContain(n.url);
    expect(n.children.every((c) => c.type === 'text')).toBe(true);
  }
}

/** Pieces that mean something in markdown, so random values are hostile far more often than plain text. */
const PIECES = [
  '#', '## Budget', '\n', '\r\n', '\r', '\t', '    ', ' ', '|', '\\', '\\|', '`', '```', '~~~', '~', '*', '**', '_', '__', '[', ']', '(', ')', '![', '](',
  '<', '>', '<img src=x onerror=alert(1)>', '<script>', '</div>', '<!--', '-->', '&amp;', '&#60;', '&#x3c;', '&lt;', '&', 'javascript:alert(1)',
  'http://x.example/a', 'www.x.example', 'a@b.example', '-', '+', '=', '===', '---', '1.', '2)', ':', '[^1]', '[x]: /u', '\u2028', '\u0085',
  '\u0000', '\u202e', '\u00a0', '\ud800', 'é', '🔋', 'Co., Ltd.', 'word', '12.50', 'a_b',
];
const hostile = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join(''));
const anyValue = fc.oneof(hostile, fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 40 }));
const runs = { numRuns: 300 };

function tableOf(tree: Root) {
  const tables = tree.children.filter((c) => c.type === 'table');
  expect(tables).toHaveLength(1);
  return tables[0]!;
}

describe('escapeInline: any value, escaped, is its own text in any place on a line', () => {
  it('a table row stays one row with the same cells, the cell holding exactly the value', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (a, b) => {
        const doc = ['| x | value | y | z |', '| --- | --- | --- | --- |', md`| left | ${a} | ${b} | right |`, ''].join('\n');
        const tree = parseMarkdown(doc);
        expect(tree.children).toHaveLength(1);
        const table = tableOf(tree);
        expect(table.children).toHaveLength(2);
        const cells = table.children[1]!.children;
        expect(cells).toHaveLength(4);
        expect(cells.map((c) => toString(c))).toEqual(['left', plainInline(a), plainInline(b), 'right']);
        expectOnlyText(cells[1]!);
        expectOnlyText(cells[2]!);
      }),
      runs,
    );
  });

  it('a heading stays one heading of its level; no heading comes from inside the value', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (name, id) => {
        const doc = [md`### company_detail: ${name} (${id})`, '', 'after', ''].join('\n');
        const tree = parseMarkdown(doc);
        const headings = nodes(tree).filter((n) => n.type === 'heading');
        expect(headings).toHaveLength(1);
        expect(tree.children[0]!.type).toBe('heading');
        expect((headings[0] as any).depth).toBe(3);
        expect(toString(headings[0]!)).toBe(`company_detail: ${plainInline(name)} (${plainInline(id)})`);
        expectOnlyText(headings[0]!);
        expect(tree.children).toHaveLength(2);
      }),
      runs,
    );
  });

  it('a heading ending in the value keeps the whole value (no closing #s, no trailing break)', () => {
    fc.assert(
      fc.property(anyValue, (theme) => {
        const tree = parseMarkdown(`${md`# Research report: ${theme}`}\n\ntext\n`);
        expect(tree.children.map((c) => c.type)).toEqual(['heading', 'paragraph']);
        expect(toString(tree.children[0]!)).toBe(`Research report: ${plainInline(theme)}`.replace(/ +$/, ''));
      }),
      runs,
    );
  });

  it('a list item stays one item', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (name, reason) => {
        const tree = parseMarkdown(`${md`- ${name}: failed — ${reason}`}\n`);
        expect(tree.children).toHaveLength(1);
        const list = tree.children[0]!;
        expect(list.type).toBe('list');
        if (list.type !== 'list') return;
        expect(list.children).toHaveLength(1);
        expect(list.children[0]!.children.map((c) => c.type)).toEqual(['paragraph']);
        expect(toString(list)).toBe(`${plainInline(name)}: failed — ${plainInline(reason)}`.replace(/ +$/, ''));
        expectOnlyText(list.children[0]!.children[0]!);
      }),
      runs,
    );
  });

  it('a value that starts a line, or is the whole line under a paragraph, stays in that paragraph', () => {
    fc.assert(
      fc.property(anyValue, (industry) => {
        for (const line of [md`${industry}, Shanghai — bought.`, md`${industry}`]) {
          const tree = parseMarkdown(`Intro.\n${line}\n`);
          expect(tree.children.map((c) => c.type)).toEqual(['paragraph']);
          expect(toString(tree)).toBe(`Intro.\n${line === md`${industry}` ? plainInline(industry) : `${plainInline(industry)}, Shanghai — bought.`}`.replace(/\n?$/, ''));
          expectOnlyText(tree.children[0]!);
          const alone = parseMarkdown(`${line}\n`);
          if (plainInline(industry) !== '' || line !== md`${industry}`) expect(alone.children.map((c) => c.type)).toEqual(['paragraph']);
        }
      }),
      runs,
    );
  });
});

describe('escapeInline: examples', () => {
  it('turns the fake Budget table of a hostile name into one line of text', () => {
    const name = 'Qilin Co.\n\n## Budget\n| limit | spent |\n| --- | --- |\n| 0.00 | 0.00 |\n<img src=x onerror=alert(1)> [pay](javascript:alert(1)) ![](http://t.example/p.gif)';
    const escaped = escapeInline(name);
    expect(escaped).not.toMatch(/[\r\n]/);
    expect(escaped).toBe(
      'Qilin Co. \\#\\# Budget \\| limit \\| spent \\| \\| --- \\| --- \\| \\| 0.00 \\| 0.00 \\| \\<img src=x onerror=alert(1)\\> \\[pay\\](javascript:alert(1)) !\\[\\](http\\://t.example/p.gif)',
    );
  });

  it('leaves ordinary names, prices and ids as they are', () => {
    for (const s of ['Ningde New Energy Battery Co., Ltd.', "Xi'an Power-Cell Inc.", '12.50', '-5%', 'R&D', 'rcpt_3f9a_b2', '固态电池', 'AT&T 2.0']) {
      expect(escapeInline(s)).toBe(s);
    }
  });

  it('escapes what would start a list, a quote or a setext underline', () => {
    expect(escapeInline('- item')).toBe('\\- item');
    expect(escapeInline('+')).toBe('\\+');
    expect(escapeInline('1. first')).toBe('1\\. first');
    expect(escapeInline('2)')).toBe('2\\)');
    expect(escapeInline('===')).toBe('\\===');
    expect(escapeInline('---')).toBe('\\---');
    expect(escapeInline('> quote')).toBe('\\> quote');
    // Under a paragraph's line, these would make it a one-column table (found by the property below).
    for (const row of [':---', '---:', ':-:']) {
      expect(escapeInline(row)).toBe(`\\${row}`);
      expect(parseMarkdown(`Intro.\n${escapeInline(row)}\n`).children.map((c) => c.type)).toEqual(['paragraph']);
    }
  });

  it('escapes character references, emphasis and code, and keeps intraword underscores', () => {
    expect(escapeInline('&lt;b&gt; &#60; &#x3c;')).toBe('\\&lt;b\\&gt; \\&\\#60; \\&\\#x3c;');
    expect(escapeInline('_a_ *b* `c` ~d~ snake_case')).toBe('\\_a\\_ \\*b\\* \\`c\\` \\~d\\~ snake_case');
  });

  it('breaks GFM autolink literals where they start, so no escape inside one comes out raw', () => {
    expect(escapeInline('http://x.example/a<img src=x onerror=alert(1)>')).toBe('http\\://x.example/a\\<img src=x onerror=alert(1)\\>');
    expect(escapeInline('see WWW.x.example or HTTPS://y.example')).toBe('see WWW\\.x.example or HTTPS\\://y.example');
    const tree = parseMarkdown(`| a |\n| - |\n| ${escapeInline('http://x.example/a<img src=x onerror=alert(1)>')} |`);
    expect(nodes(tree).some((n) => n.type === 'html')).toBe(false);
  });

  it('flattens line breaks, tabs and controls to single spaces and drops bidi controls', () => {
    expect(plainInline('  a\r\n\tb\u2028c\u0000d\u0085e  ')).toBe('a b c d e');
    expect(plainInline('\u202egnp.exe')).toBe('gnp.exe');
    expect(plainInline('x\ud800y')).toBe('x\ufffdy');
    expect(plainInline(null)).toBe('');
    expect(plainInline(42)).toBe('42');
  });
});
