import fc from 'fast-check';
import { parseDocument } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import sanitizeHtml from 'sanitize-html';
import { reportBodyHtml, reportPage, SANITIZE } from './html.ts';

type El = { type: string; name?: string; attribs?: Record<string, string>; children?: El[]; data?: string };

function elements(node: El): El[] {
  return [...(node.type === 'tag' || node.type === 'script' || node.type === 'style' ? [node] : []), ...(node.children ?? []).flatMap(elements)];
}

const ALLOWED = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'ul', 'ol', 'li', 'strong', 'em', 's', 'del', 'code', 'pre', 'blockquote', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);

/** No element but the allowed ones, no attribute but href/rel/target on a link, links http(s) only. */
function expectSafe(html: string) {
  const doc = parseDocument(html) as unknown as El;
  for (const el of elements(doc)) {
    expect(ALLOWED.has(el.name!), el.name).toBe(true);
    for (const [name, value] of Object.entries(el.attribs ?? {})) {
      expect(el.name, `${el.name} ${name}`).toBe('a');
      expect(['href', 'rel', 'target']).toContain(name);
      if (name === 'href') expect(value).toMatch(/^https?:\/\//i);
    }
  }
  // Markup from outside may be shown as text (escaped); as markup it never appears.
  expect(html).not.toMatch(/<(script|img|iframe|style|svg|object|embed|form|input)\b/i);
}

const HOSTILE = [
  '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">x</a>', '[x](javascript:alert(1))', '[ok](https://ok.example/a)',
  '![t](http://tracker.example/p.gif)', '<div onclick="alert(1)">', '<iframe src=http://e.example>', 'http://bare.example/a', 'www.bare.example', 'a@b.example',
  '[r]: javascript:alert(2)', '[r]', '<style>body{}</style>', '<svg onload=alert(1)>', '| a | b |\n| --- | --- |\n| <b onmouseover=x>1</b> | 2 |', '\n', '\n\n', '# T', '```\n<script>\n```',
  '[y](//evil.example)', '[z](data:text/html,<b>)', '<a href="http://ok.example" onclick="x">k</a>', '&lt;script&gt;', 'text',
];

describe('the report as HTML', () => {
  it('renders tables, headings and lists, and keeps an http(s) link with rel=nofollow noopener noreferrer', () => {
    const html = reportBodyHtml('# Report\n\n## Comparison\n\n| company | revenue |\n| --- | ---: |\n| Acme | 12.5 |\n\n- one\n- two\n\n[ok](https://ok.example/a)\n');
    expect(html).toContain('<h1>Report</h1>');
    expect(html).toContain('<table>');
    expect(html).toContain('<td>12.5</td>');
    expect(html).toContain('<li>one</li>');
    expect(html).toContain('<a href="https://ok.example/a" rel="nofollow noopener noreferrer" target="_blank">ok</a>');
    expectSafe(html);
  });

  it('shows markup from a record as text: no script, handler, image, frame or off-web link; bare addresses stay text', () => {
    const html = reportBodyHtml(HOSTILE.join('\n\n'));
    expectSafe(html);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('href="http://bare.example');
    expect(html).not.toContain('mailto:');
  });

  it('whatever the markdown, the HTML is safe', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...HOSTILE), { maxLength: 12 }), (pieces) => {
        expectSafe(reportBodyHtml(pieces.join('')));
      }),
      { numRuns: 300 },
    );
  });

  it('the sanitiser alone removes what a renderer might let through (each step suffices on its own)', () => {
    const raw = '<p onclick="x">a<script>alert(1)</script><img src=x onerror=y><a href="javascript:alert(1)">j</a><a href="//e.example">p</a><a href="http://ok.example" style="x">ok</a><iframe src="http://e.example"></iframe></p>';
    const clean = sanitizeHtml(raw, SANITIZE);
    expectSafe(clean);
    expect(clean).toBe('<p>a<a>j</a><a>p</a><a href="http://ok.example" rel="nofollow noopener noreferrer" target="_blank">ok</a></p>');
  });

  it('the page escapes its title and carries no script', () => {
    const page = reportPage('# x', 'Research report: <script>alert(1)</script>');
    expect(page).toContain('<title>Research report: &#60;script&#62;alert(1)&#60;/script&#62;</title>');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).not.toMatch(/<script/i);
  });
});
