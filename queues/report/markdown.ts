import type { ModelUse, Recalled } from '../../shared/db/index.ts';
import type { ReportCompanyRow as Company, ReportLedgerEntry as LedgerEntry, ReportPayment as Payment, ReportTask as Task } from '../../shared/db/reports.ts';
import { formatMicroUsd } from '../../shared/llm/prices.ts';
import { md } from '../../shared/markdown/escape.ts';
import { ageText } from '../../shared/memory/freshness.ts';
import { formatMoney, remainingOf } from '../../shared/money.ts';
import { PROVIDER_LIMITS, truncationNote } from '../../shared/providers/limits.ts';
import { millions } from '../../shared/report/figures.ts';
import { highlights } from '../../shared/report/highlights.ts';
import { refs, renderNarrative, type Narrative, type ReportCompany } from '../../shared/report/narrative.ts';
import { compareOf, formatBasisPoints, readRecord } from '../../shared/report/record.ts';

export interface ReportFacts {
  task: Task;
  companies: Company[];
  /** Records of the tenant's memory relevant to the theme, beside the task's own (owned earlier). */
  retrieved?: readonly Recalled[];
  payments: Payment[];
  ledger: LedgerEntry[];
  narrative: Narrative;
  writer: string;
  model: ModelUse;
  /** The searches that were run. */
  queries: string[];
  /** Where each reused record came from (company id → the purchase's task and day). */
  reusedFrom?: ReadonlyMap<string, ReuseSource>;
  marketplaceUrl: string;
}

/** Where a reused record came from: the purchase's task and when it was bought. */
type ReuseSource = { taskId: string; boughtAt: Date };

const bought = (cs: readonly Company[]) => cs.filter((c) => c.status === 'bought' || c.status === 'reused');

/**
 * The companies of the report in order, numbered as their line of the Sources list: the task's own
 * records (bought, or reused from memory), then the records retrieved from the tenant's memory as owned
 * earlier (with their age).
 */
export function reportCompanies(companies: readonly Company[], retrieved: readonly Recalled[] = []): ReportCompany[] {
  const own = bought(companies).map((c, i): ReportCompany => {
    const facts = readRecord(c.detail as Record<string, unknown> | null);
    return { ref: i + 1, name: c.name, industry: c.industry, city: c.city, facts, cmp: compareOf(facts), origin: c.status === 'reused' ? 'reused' : 'bought' };
  });
  const earlier = retrieved.map((r, i): ReportCompany => {
    const facts = readRecord(r.fields);
    return { ref: own.length + i + 1, name: r.name, industry: r.industry, city: r.city, facts, cmp: compareOf(facts), origin: 'owned', ageSeconds: r.ageSeconds };
  });
  return [...own, ...earlier];
}

/** When a record owned earlier was bought, in words: `3 d ago (2026-11-26)`. */
const boughtWhen = (r: Recalled) => `${ageText(r.ageSeconds)} ago (${r.boughtAt.toISOString().slice(0, 10)})`;

const dash = (v: string | number | undefined) => (v === undefined ? '—' : v);
const amount = (fen: bigint | undefined) => (fen === undefined ? '—' : millions(fen));

/** The line that says what of a company's provider text was cut to our limits, if any was. */
function truncationLine(c: Company): string[] {
  const cut = [...truncationNote(c.basic).map((p) => `${p} (search result)`), ...truncationNote(c.detail)];
  if (cut.length === 0) return [];
  const limits = `names ${PROVIDER_LIMITS.name} characters, other text ${PROVIDER_LIMITS.field.toLocaleString('en')}, a record ${PROVIDER_LIMITS.recordBytes / 1024} KiB`;
  return [md`Cut to our size limits (${limits}): ${cut.join('; ')}.`, ''];
}

/** A two-column table of label → text, or nothing when there are no rows. */
function fieldTable(heading: string, rows: Array<[string, string]>): string[] {
  if (rows.length === 0) return [];
  return [heading, '', '| field | value |', '| --- | --- |', ...rows.map(([k, v]) => md`| ${k} | ${v} |`), ''];
}

/** One `company_detail` section: the bought record as delivered, as tables and lists — never raw JSON. */
function detailSection(c: Company, rc: ReportCompany, payment: Payment | undefined, source: ReuseSource | undefined): string {
  const from = source ? ` bought in task ${source.taskId} on ${source.boughtAt.toISOString().slice(0, 10)}` : '';
  const how = c.status === 'reused' ? `reused from memory (the tenant's purchase${from}, receipt ${c.receipt_id ?? '—'}), no charge` : `bought for ${formatMoney(payment?.amount ?? c.price)} CNY, receipt ${c.receipt_id ?? '—'}`;
  const shortfall = c.error_code === 'incomplete_record' ? [md`Incomplete delivery: ${c.error_message}.`, ''] : [];
  return [md`### company_detail: ${c.name} (${c.company_id})`, '', `${md`${c.industry}, ${c.city} — ${how}. Source`}${refs([rc.ref])}.`, '', ...shortfall, ...truncationLine(c), ...recordParts(rc)].join('\n');
}

/** One `owned_record` section: a record retrieved from the tenant's memory, not bought again for this task. */
function ownedSection(r: Recalled, rc: ReportCompany): string {
  const how = `owned since a purchase ${boughtWhen(r)} in task ${r.taskId} for ${formatMoney(r.pricePaid)} CNY, receipt ${r.receiptId ?? '—'}; not bought again for this task`;
  const cut = truncationNote(r.fields);
  return [
    md`### owned_record: ${r.name} (${r.companyId})`,
    '',
    `${md`${r.industry}, ${r.city} — ${how}. Source`}${refs([rc.ref])}.`,
    '',
    ...(cut.length ? [md`Cut to our size limits when bought: ${cut.join('; ')}.`, ''] : []),
    ...recordParts(rc),
  ].join('\n');
}

/** A record's parts as tables and lists: profile, financials, shareholders, risk notes, contacts. */
function recordParts(rc: ReportCompany): string[] {
  const { facts } = rc;
  const financials = facts.financials.length
    ? [
        '#### Financials (CNY millions)',
        '',
        '| year | revenue | net profit | total assets | R&D expense |',
        '| --- | --- | --- | --- | --- |',
        ...facts.financials.map((y) => md`| ${y.year} | ${amount(y.revenue)} | ${amount(y.netProfit)} | ${amount(y.totalAssets)} | ${amount(y.rdExpense)} |`),
        '',
      ]
    : [];
  const shareholders = facts.shareholders.length
    ? ['#### Shareholders', '', '| shareholder | type | stake |', '| --- | --- | --- |', ...facts.shareholders.map((s) => md`| ${s.name} | ${s.type} | ${s.stake === undefined ? '—' : formatBasisPoints(s.stake)} |`), '']
    : [];
  const risks = facts.riskNotes.length ? ['#### Risk notes', '', ...facts.riskNotes.map((n) => md`- ${n}`), ''] : [];
  return [...fieldTable('#### Profile', facts.profile), ...financials, ...shareholders, ...risks, ...fieldTable('#### Contacts', facts.contacts)];
}

/** The comparison table of the bought companies: latest year's figures, with their source. */
function comparison(rcs: readonly ReportCompany[]): string[] {
  if (rcs.length === 0) return ['No record was bought, so there is nothing to compare.', ''];
  const owned = rcs.some((r) => r.origin === 'owned') ? ' Records marked owned earlier come from the tenant\'s memory, not from this task\'s purchases.' : '';
  return [
    `Latest year in each record; money in CNY millions; growth is revenue against the year before.${owned}`,
    '',
    '| company | year | revenue | growth YoY | net margin | R&D intensity | total assets | credit rating | patents | source |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rcs.map((r) => {
      const x = r.cmp;
      const name = r.origin === 'owned' ? `${r.name} (owned earlier, ${ageText(r.ageSeconds ?? 0)} old)` : r.name;
      return `${md`| ${name} | ${dash(x.year)} | ${dash(x.revenue)} | ${dash(x.growth)} | ${dash(x.netMargin)} | ${dash(x.rdIntensity)} | ${dash(x.totalAssets)} | ${dash(x.creditRating)} | ${dash(x.patents)} |`}${refs([r.ref])} |`;
    }),
    '',
  ];
}

/**
 * The report, written by our code: the narrative (the model's or ours, rendered with its references by
 * shared/report/narrative.ts), the comparison table and what stands out (computed from the records), one
 * `company_detail` section per bought record, the purchases, the budget with the model's cost beside the
 * data spend, and the numbered Sources every [n] points to. Every heading is ours; every value from
 * outside is escaped for its line (`md`).
 */
export function renderReport(f: ReportFacts): string {
  const { task } = f;
  const retrieved = f.retrieved ?? [];
  const rcs = reportCompanies(f.companies, retrieved);
  const boughtRows = bought(f.companies);
  const paymentOf = new Map(f.payments.map((p) => [p.company_id, p]));
  const spent = task.captured - task.refunded;
  const reused = f.companies.filter((c) => c.status === 'reused');
  const saved = reused.reduce((sum, c) => sum + c.price, 0);

  // Budget left after each capture, in the order the money was taken.
  let running = task.budget_limit;
  const leftAfter = new Map<number, number>();
  for (const l of f.ledger.filter((e) => e.kind === 'capture')) {
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

  const narrative = renderNarrative(f.narrative, rcs.length);
  const standOut = renderNarrative({ paragraphs: highlights(rcs).map((s) => [s]) }, rcs.length);
  const skipped = f.companies.filter((c) => c.status === 'skipped').length;
  const failed = f.companies.filter((c) => c.status === 'failed' || c.status === 'refunded');
  const m = f.model;
  const modelCost = `${formatMicroUsd(m.costMicroUsd)} USD${m.unpriced ? ` (${m.unpriced} call(s) of a model without a price not included)` : ''}`;
  const sources = [
    ...boughtRows.map((c, i) => {
      const resource = paymentOf.get(c.company_id)?.resource ?? `/company/detail?id=${encodeURIComponent(c.company_id)}`;
      return `-${refs([rcs[i]!.ref])} ${md`${c.name} — ${f.marketplaceUrl}${resource}, receipt ${c.receipt_id ?? '—'}`}`;
    }),
    ...retrieved.map((r, i) => `-${refs([rcs[boughtRows.length + i]!.ref])} ${md`${r.name} — ${f.marketplaceUrl}${r.resource}, receipt ${r.receiptId ?? '—'}, owned earlier: bought ${boughtWhen(r)}`}`),
  ];
  const memoryLine = [
    ...(reused.length ? [`${reused.length} reused from memory (saving ${formatMoney(saved)})`] : []),
    ...(retrieved.length ? [`${retrieved.length} owned earlier`] : []),
  ];

  return [
    md`# Research report: ${task.theme}`,
    '',
    [
      md`Task \`${task.id}\` · ${boughtRows.length} record(s) bought`,
      ...memoryLine,
      md`data spend ${formatMoney(spent)} of ${formatMoney(task.budget_limit)} ${task.currency} · model cost ${modelCost} · written by ${f.writer}`,
    ].join(' · '),
    '',
    '## Summary',
    '',
    narrative.markdown || 'No summary could be written.',
    '',
    ...(narrative.dropped ? [`${narrative.dropped} sentence(s) of the summary stated figures without a source and were left out.`, ''] : []),
    '## Comparison',
    '',
    ...comparison(rcs),
    '## What stands out',
    '',
    ...(standOut.markdown ? [standOut.markdown.split('\n\n').map((s) => `- ${s}`).join('\n'), ''] : ['Nothing stands out: no fast growth, loss, concentrated ownership or pledged equity in these records.', '']),
    '## Bought records',
    '',
    ...(boughtRows.length ? boughtRows.map((c, i) => detailSection(c, rcs[i]!, paymentOf.get(c.company_id), f.reusedFrom?.get(c.company_id))) : ['No record was bought.', '']),
    ...(retrieved.length
      ? ['## Owned earlier', '', "Records the tenant bought for earlier tasks that bear on this theme, from its memory (not bought again, no charge):", '', ...retrieved.map((r, i) => ownedSection(r, rcs[boughtRows.length + i]!))]
      : []),
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
    ...(reused.length
      ? [`Reused from the tenant's memory at no charge: ${reused.length} record(s), saving ${formatMoney(saved)} ${task.currency} (their listed prices).`, '']
      : []),
    'Beside the data spend, the language model (not charged to the budget):',
    '',
    '| model calls | input tokens | output tokens | model cost (USD) |',
    '| --- | --- | --- | --- |',
    md`| ${m.calls} | ${m.inputTokens} | ${m.outputTokens} | ${formatMicroUsd(m.costMicroUsd)} |`,
    '',
    ...(failed.length ? ['## Not delivered', '', ...failed.map((c) => md`- ${c.name}: ${c.status} — ${c.error_message ?? c.error_code ?? ''}`), ''] : []),
    '## Sources',
    '',
    ...(sources.length ? sources : ['No paid record.']),
    '',
    md`Free search, not numbered: ${f.marketplaceUrl}/company/basic, searches ${f.queries.join('; ') || '—'} (${f.companies.length} candidate(s), ${skipped} not bought).`,
    '',
  ].join('\n');
}
