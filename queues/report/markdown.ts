import type { Company, LedgerEntry, Payment, Task } from '../../shared/db/index.ts';
import { md } from '../../shared/markdown/escape.ts';
import { sanitizeModelMarkdown } from '../../shared/markdown/sanitize.ts';
import { formatMoney, remainingOf } from '../../shared/money.ts';
import { PROVIDER_LIMITS, TRUNCATED_KEY, truncationNote } from '../../shared/providers/limits.ts';

export interface ReportFacts {
  task: Task;
  companies: Company[];
  payments: Payment[];
  ledger: LedgerEntry[];
  analysis: string;
  writer: string;
  marketplaceUrl: string;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join('; ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The line that says what of a company's provider text was cut to our limits, if any was. */
function truncationLine(c: Company): string[] {
  const cut = [...truncationNote(c.basic).map((p) => `${p} (search result)`), ...truncationNote(c.detail)];
  if (cut.length === 0) return [];
  const limits = `names ${PROVIDER_LIMITS.name} characters, other text ${PROVIDER_LIMITS.field.toLocaleString('en')}, a record ${PROVIDER_LIMITS.recordBytes / 1024} KiB`;
  return [md`Cut to our size limits (${limits}): ${cut.join('; ')}.`, ''];
}

/** One `company_detail` section: the bought record as delivered, field by field. */
function detailSection(c: Company, payment: Payment | undefined): string {
  const detail = (c.detail ?? {}) as Record<string, unknown>;
  const rows = Object.entries(detail)
    .filter(([k]) => k !== TRUNCATED_KEY)
    .map(([k, v]) => md`| ${k} | ${value(v)} |`);
  const how = c.status === 'reused' ? `reused an earlier receipt (${c.receipt_id ?? '—'}), no charge` : `bought for ${formatMoney(payment?.amount ?? c.price)} CNY, receipt ${c.receipt_id ?? '—'}`;
  const shortfall = c.error_code === 'incomplete_record' ? [md`Incomplete delivery: ${c.error_message}.`, ''] : [];
  return [md`### company_detail: ${c.name} (${c.company_id})`, '', md`${c.industry}, ${c.city} — ${how}.`, '', ...shortfall, ...truncationLine(c), '| field | value |', '| --- | --- |', ...rows, ''].join('\n');
}

/**
 * The report's skeleton is written here, not by the model: one `company_detail` section per bought
 * record, the purchases table and the budget, so bought facts never depend on what a model said.
 * Every heading is ours. Every value from outside (theme, provider text, error messages) is escaped for
 * its line (`md`), and the analysis is sanitised (no HTML, images, off-web links or headings).
 */
export function renderReport(f: ReportFacts): string {
  const { task } = f;
  const bought = f.companies.filter((c) => c.status === 'bought' || c.status === 'reused');
  const paymentOf = new Map(f.payments.map((p) => [p.company_id, p]));
  const byCapture = f.ledger.filter((l) => l.kind === 'capture');
  const spent = task.captured - task.refunded;

  // Budget left after each capture, in the order the money was taken.
  let running = task.budget_limit;
  const leftAfter = new Map<number, number>();
  for (const l of byCapture) {
    running -= l.amount;
    leftAfter.set(l.payment_id, running);
  }

  const purchaseRows = f.companies
    .filter((c) => c.status !== 'skipped' || paymentOf.has(c.company_id))
    .map((c) => {
      const p = paymentOf.get(c.company_id);
      const price = p && p.amount > 0 ? formatMoney(p.amount) : c.status === 'reused' ? '0.00 (reused)' : formatMoney(c.price);
      const refunded = p?.refunded_amount ? formatMoney(p.refunded_amount) : '0.00';
      const left = p && leftAfter.has(p.id) ? formatMoney(leftAfter.get(p.id)!) : '—';
      return md`| ${c.name} | ${price} | ${c.receipt_id ?? p?.receipt_id ?? '—'} | ${c.status} | ${refunded} | ${left} |`;
    });

  const sources = bought.map((c) => md`- ${c.name}: ${`${f.marketplaceUrl}/company/detail?id=${encodeURIComponent(c.company_id)}`} (paid record)`);
  const skipped = f.companies.filter((c) => c.status === 'skipped').length;
  const failed = f.companies.filter((c) => c.status === 'failed' || c.status === 'refunded');

  return [
    md`# Research report: ${task.theme}`,
    '',
    md`Task \`${task.id}\` · ${bought.length} record(s) bought · budget ${formatMoney(task.budget_limit)} ${task.currency} · written by ${f.writer}`,
    '',
    '## Summary',
    '',
    sanitizeModelMarkdown(f.analysis),
    '',
    '## Bought records',
    '',
    ...(bought.length ? bought.map((c) => detailSection(c, paymentOf.get(c.company_id))) : ['No record was bought.', '']),
    '## Purchases',
    '',
    '| company | price (CNY) | receipt id | status | refunded | budget left |',
    '| --- | --- | --- | --- | --- | --- |',
    ...(purchaseRows.length ? purchaseRows : ['| — | — | — | — | — | — |']),
    '',
    '## Budget',
    '',
    '| limit | reserved | spent | refunded | released | remaining |',
    '| --- | --- | --- | --- | --- | --- |',
    md`| ${formatMoney(task.budget_limit)} | ${formatMoney(task.reserved)} | ${formatMoney(spent)} | ${formatMoney(task.refunded)} | ${formatMoney(task.released)} | ${formatMoney(remainingOf({ limit: task.budget_limit, reserved: task.reserved, captured: task.captured, refunded: task.refunded }))} |`,
    '',
    ...(failed.length ? ['## Not delivered', '', ...failed.map((c) => md`- ${c.name}: ${c.status} — ${c.error_message ?? c.error_code ?? ''}`), ''] : []),
    '## Sources',
    '',
    md`- Free search: ${`${f.marketplaceUrl}/company/basic`} (${f.companies.length} candidate(s), ${skipped} not bought)`,
    ...sources,
    '',
  ].join('\n');
}
