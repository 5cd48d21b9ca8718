/**
 * Escaping of untrusted text (provider records, company names, the theme, error messages) for one
 * place inside a markdown line: a heading, a table cell, a list item or a sentence. The escaped value
 * renders as its own text and nothing else: it cannot end the line, open a heading, a list, a quote or
 * a table cell, form emphasis, code, a link, an image or HTML.
 */

/** Controls (C0, DEL, C1 — tabs and line breaks included) and the Unicode line and paragraph separators. */
const BREAKS_AND_CONTROLS = /[\p{Cc}\u2028\u2029 ]+/gu;
/** Bidirectional embeddings, overrides and isolates: they can make a cell read as something else. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
/** Characters with a markdown meaning wherever they stand on a line (CommonMark and GFM). */
const ALWAYS = new Set(['\\', '`', '*', '[', ']', '<', '>', '#', '|', '~']);
/** `&` only matters when it starts a character reference (`&amp;`, `&#60;`, `&#x3c;`). */
const REFERENCE = /^&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});/;
const WORD = /[\p{L}\p{N}]/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The text an untrusted value stands for on one line: line breaks, tabs and other controls become a
 * single space, bidi controls are dropped, lone surrogates become U+FFFD, and the ends are trimmed.
 * This is exactly the text that {@link escapeInline}'s output renders as.
 */
export function plainInline(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(LONE_SURROGATE, '\ufffd').replace(BIDI_CONTROLS, '').replace(BREAKS_AND_CONTROLS, ' ').replace(/^ | $/g, '');
}

/**
 * Escapes an untrusted value for use inside a markdown line (see the module comment). Ordinary text
 * stays readable: only characters that would mean something are backslash-escaped (`_` only where it
 * could open or close emphasis, `&` only where it starts a character reference, `-`, `+`, `=` and
 * `1.` only where they could start a list or underline a heading, the `:` of `http:` and the `.` of `www.`).
 */
export function escapeInline(value: unknown): string {
  const text = plainInline(value);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const escape =
      ALWAYS.has(ch) ||
      (ch === '_' && !(WORD.test(text[i - 1] ?? '') && WORD.test(text[i + 1] ?? ''))) ||
      (ch === '&' && REFERENCE.test(text.slice(i, i + 40))) ||
      // A GFM autolink literal (`http://…`, `www.…`) is read from the raw text, backslashes and all, so an
      // escape inside one would come out literally and the `<` after it would open HTML: break the
      // literal where it starts. The address still becomes a link from the text itself, where GFM does so.
      (ch === ':' && /https?$/i.test(text.slice(Math.max(0, i - 5), i))) ||
      (ch === '.' && /www$/i.test(text.slice(Math.max(0, i - 3), i)));
    out += escape ? `\\${ch}` : ch;
  }
  // At the start of a line: a list item (`- x`, `+ x`, `1. x`), a setext underline (`===`, `---`), or
  // the delimiter row of a one-column GFM table under the line before (`:---`, `---:`, `:-:`).
  if (/^[-+](?: |$)/.test(out) || /^(?:=+|:?-+:?)$/.test(out)) return `\\${out}`;
  const ordered = /^(\d{1,9})([.)])(?= |$)/.exec(out);
  if (ordered) return `${ordered[1]}\\${out.slice(ordered[1]!.length)}`;
  return out;
}

/**
 * A tagged template for one markdown line: every interpolated value goes through {@link escapeInline}.
 * md`| ${name} | ${price} |` is a table row whatever `name` holds.
 */
export function md(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += escapeInline(values[i]) + strings[i + 1]!;
  return out;
}
