/**
 * CSV (RFC 4180) for finance exports: every line ends in CRLF; a field holding a comma, a quote or a
 * line break is quoted, its quotes doubled. A field that a spreadsheet would run as a formula (it starts
 * with `=`, `+`, `-`, `@`, a tab or a CR) is prefixed with `'` — a company id or a tenant name comes
 * from outside and must not become `=HYPERLINK(…)` in finance's spreadsheet (OWASP "CSV injection").
 * Amounts are never negative here, so no number is touched.
 */
export type CsvField = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field, escaped. null and undefined are empty. */
export function csvField(value: CsvField): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record: the fields escaped, comma-separated, ending in CRLF. */
export function csvLine(fields: readonly CsvField[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}
