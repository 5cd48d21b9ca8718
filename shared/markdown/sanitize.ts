import type { Nodes, Root, RootContent } from 'mdast';
import { gfmToMarkdown } from 'mdast-util-gfm';
import { toMarkdown } from 'mdast-util-to-markdown';
import { parseMarkdown } from './parse.ts';

/** Bidirectional embeddings, overrides and isolates: they make text read other than it is. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * True for an absolute http(s) URL: the only link targets kept. The test is on the string as a browser
 * gets it (no leading blank or control a browser would strip first), not on a parse of it.
 */
export function isWebUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/**
 * What a node of the model's text becomes: itself (children cleaned), its children in its place, or
 * nothing. The rules:
 * - raw HTML (blocks and inline tags) is dropped; the text between inline tags stays;
 * - images (inline or by reference) are dropped: a model has no image to show, only a tracker would;
 * - a link to anything but an absolute http(s) URL gives way to its text (javascript:, data:, mailto:,
 *   relative); links by reference give way to their text too, and definitions are dropped;
 * - headings become a bold paragraph: every heading of a report is our skeleton's, so the model cannot
 *   open a "Budget" or "company_detail" section of its own;
 * - footnotes are dropped (a renderer would lift them out of the analysis to the end of the report).
 */
function clean(node: Nodes): Nodes[] {
  switch (node.type) {
    case 'html':
    case 'image':
    case 'imageReference':
    case 'definition':
    case 'footnoteDefinition':
    case 'footnoteReference':
      return [];
    case 'linkReference':
      return cleanAll(node.children);
    case 'link':
      return isWebUrl(node.url) ? [{ ...node, children: cleanAll(node.children) as typeof node.children }] : cleanAll(node.children);
    case 'heading': {
      const children = cleanAll(node.children) as Extract<Nodes, { type: 'strong' }>['children'];
      return children.length ? [{ type: 'paragraph', children: [{ type: 'strong', children }] }] : [];
    }
    case 'text':
      return [{ ...node, value: node.value.replace(BIDI_CONTROLS, '') }];
    case 'paragraph': {
      // What was dropped may leave blanks at the ends, or empty lines (one line break is enough).
      const children = mergeText(cleanAll(node.children) as typeof node.children).map((c) => (c.type === 'text' ? { ...c, value: c.value.replace(/[ \t]*\n\s*/g, '\n') } : c));
      const first = children[0];
      if (first?.type === 'text') children[0] = { ...first, value: first.value.replace(/^\s+/, '') };
      const last = children.at(-1);
      if (last?.type === 'text') children[children.length - 1] = { ...last, value: last.value.replace(/\s+$/, '') };
      const kept = children.filter((c) => c.type !== 'text' || c.value !== '');
      return kept.length ? [{ ...node, children: kept }] : [];
    }
    default: {
      if (!('children' in node)) return [node];
      const children = cleanAll(node.children as Nodes[]);
      // Emphasis that held only an image or HTML is gone with it (a paragraph is handled above).
      if (children.length === 0 && (node.type === 'emphasis' || node.type === 'strong' || node.type === 'delete')) return [];
      return [{ ...node, children } as Nodes];
    }
  }
}

/** Joins neighbouring text nodes (what lay between them may have been dropped). */
function mergeText<T extends Nodes>(children: T[]): T[] {
  const out: T[] = [];
  for (const child of children) {
    const prev = out.at(-1);
    if (prev?.type === 'text' && child.type === 'text') out[out.length - 1] = { ...prev, value: prev.value + child.value };
    else out.push(child);
  }
  return out;
}

function cleanAll(children: readonly Nodes[]): Nodes[] {
  return children.flatMap(clean);
}

/**
 * Sanitises a language model's markdown before it goes into a report (see {@link clean} for what is
 * kept). The text is parsed as GFM and written out again, so what comes out is well formed on its own:
 * an unclosed code fence or table cannot swallow the skeleton that follows it.
 */
export function sanitizeModelMarkdown(text: string): string {
  const tree = parseMarkdown(text);
  const cleaned: Root = { type: 'root', children: cleanAll(tree.children) as RootContent[] };
  return toMarkdown(cleaned, {
    extensions: [gfmToMarkdown()],
    bullet: '-',
    emphasis: '_',
    strong: '*',
    fences: true,
    rule: '-',
    listItemIndent: 'one',
  }).trim();
}
