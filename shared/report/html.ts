import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';

/**
 * A report's markdown as a standalone HTML page, in two steps that each suffice on their own:
 * 1. markdown-it renders CommonMark with GFM tables and strikethrough — `html: false` writes raw HTML out as
 *    text, its link validation drops script and data targets, and `linkify: false` leaves a bare address in a
 *    record as text rather than a link someone else chose (markdown-it: ~15× faster than micromark here);
 * 2. sanitize-html keeps only the elements a report uses and no attribute but a link's `href` (http and
 *    https only, with rel and target of our own): no script, no style, no inline handler, no image, no form.
 * The page itself carries no script; the route adds a Content-Security-Policy that forbids any.
 */

/** The elements a report may contain. */
const ALLOWED_TAGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'ul', 'ol', 'li', 'strong', 'em', 's', 'del', 'code', 'pre', 'blockquote', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td'];

/** The sanitiser's rules (exported for the tests). */
export const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ALLOWED_TAGS,
  allowedAttributes: { a: ['href', 'rel', 'target'] },
  allowedSchemes: ['http', 'https'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Whatever links are left point out of the report: no referrer, no window handle.
  transformTags: {
    a: (_tag, attribs): sanitizeHtml.Tag =>
      /^https?:\/\//i.test(attribs.href ?? '') ? { tagName: 'a', attribs: { href: attribs.href!, rel: 'nofollow noopener noreferrer', target: '_blank' } } : { tagName: 'a', attribs: {} },
  },
  allowedClasses: {},
  allowedStyles: {},
};

const renderer = new MarkdownIt('commonmark', { html: false, linkify: false, typographer: false }).enable(['table', 'strikethrough']);

/** The report body: markdown rendered, then sanitised. */
export function reportBodyHtml(markdown: string): string {
  return sanitizeHtml(renderer.render(markdown), SANITIZE);
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const STYLE = [
  'body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}',
  'main{max-width:72rem;margin:0 auto;padding:1.5rem}',
  'table{border-collapse:collapse;margin:.5rem 0 1rem;display:block;overflow-x:auto}',
  'th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}',
  'th{background:#f6f8fa}',
  'h3{margin-top:2rem;border-top:1px solid #d0d7de;padding-top:1rem}',
  'code{background:#f6f8fa;padding:0 .2rem}',
].join('');

/** The whole page: a title (escaped), our fixed style and the sanitised body; no script. */
export function reportPage(markdown: string, title: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>\n${reportBodyHtml(markdown)}</main></body></html>\n`;
}

/** The Content-Security-Policy of a report page: nothing may load or run; only its own inline style applies. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
