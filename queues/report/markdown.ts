import type { Company, LedgerEntry, Payment, Task } from '../../shared/db/index.ts';
import { formatMoney, remainingOf } from '../../shared/money.ts';

export interface ReportFacts {
  task: Task;
  companies: Company[];
  payments: Payment[];
  ledger: LedgerEntry[];
  analysis: string;
  writer: string;
  marketplaceUrl: string;
}

const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function value(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join('; ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One `company_detail` section: the bought record as delivered, field by field. */
function detailSection(c: Company, payment: Payment | undefined): string {
  const detail = (c.detail ?? {}) as Record<string, unknown>;
  const rows = Object.entries(detail).map(([k, v]) => `| ${cell(k)} | ${cell(value(v))} |`);
  const how = c.status === 'reused' ? `reused an earlier receipt (${c.receipt_id ?? '—'}), no charge` : `bought for ${formatMoney(payment?.amount ?? c.price)} CNY, receipt ${c.receipt_id ?? '—'}`;
  const shortfall = c.error_code === 'incomplete_record' ? [`Incomplete delivery: ${c.error_message}.`, ''] : [];
  return [`### company_detail: ${c.name} (${c.company_id})`, '', `${c.industry}, ${c.city} — ${how}.`, '', ...shortfall, '| field | value |', '| --- | --- |', ...rows, ''].join('\n');
}

/**
 * The report's skeleton is written here, not by the model: one `company_detail` section per bought
 * record, the purchases table and the budget, so bought facts never depend on what a model said.
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
      return `| ${cell(c.name)} | ${price} | ${cell(c.receipt_id ?? p?.receipt_id ?? '—')} | ${c.status} | ${refunded} | ${left} |`;
    });

  const sources = bought.map((c) => `- ${c.name}: ${f.marketplaceUrl}/company/detail?id=${encodeURIComponent(c.company_id)} (paid record)`);
  const skipped = f.companies.filter((c) => c.status === 'skipped').length;
  const failed = f.companies.filter((c) => c.status === 'failed' || c.status === 'refunded');

  return [
    `# Research report: ${task.theme}`,
    '',
    `Task \`${task.id}\` · ${bought.length} record(s) bought · budget ${formatMoney(task.budget_limit)} ${task.currency} · written by ${f.writer}`,
    '',
    '## Summary',
    '',
    f.analysis.trim(),
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
    `| ${formatMoney(task.budget_limit)} | ${formatMoney(task.reserved)} | ${formatMoney(spent)} | ${formatMoney(task.refunded)} | ${formatMoney(task.released)} | ${formatMoney(remainingOf({ limit: task.budget_limit, reserved: task.reserved, captured: task.captured, refunded: task.refunded }))} |`,
    '',
    ...(failed.length ? ['## Not delivered', '', ...failed.map((c) => `- ${c.name}: ${c.status} — ${c.error_message ?? c.error_code ?? ''}`), ''] : []),
    '## Sources',
    '',
    `- Free search: ${f.marketplaceUrl}/company/basic (${f.companies.length} candidate(s), ${skipped} not bought)`,
    ...sources,
    '',
  ].join('\n');
}
