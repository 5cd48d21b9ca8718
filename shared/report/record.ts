import { TRUNCATED_KEY } from '../providers/limits.ts';
import { amountOf, basisPoints, formatBasisPoints, formatTenths, growthTenths, millions, percent } from './figures.ts';

/**
 * A bought record read for the report. Records are a third party's data: every field is read
 * defensively (a value that is not what it should be shows as "—"), and nothing is shown as raw JSON —
 * fields we do not know are written out as plain text (`key: value; …`).
 */

/** One year of a record's financials; amounts in bigint fen (undefined when missing or not an amount). */
export interface YearFigures {
  year: number;
  revenue?: bigint;
  netProfit?: bigint;
  totalAssets?: bigint;
  rdExpense?: bigint;
}

export interface Shareholder {
  name: string;
  type: string;
  /** Basis points of the company; undefined when the record's stake is not a share. */
  stake?: number;
}

export interface RecordFacts {
  /** Label → text of the record's other fields (identity, registration, rating, unknown fields). */
  profile: Array<[string, string]>;
  /** By year, oldest first, one entry per year. */
  financials: YearFigures[];
  /** Largest stake first. */
  shareholders: Shareholder[];
  riskNotes: string[];
  contacts: Array<[string, string]>;
  creditRating?: string;
  patents?: number;
}

/** The comparison figures of a record's latest year (text as shown; undefined when not computable). */
export interface Comparison {
  year?: number;
  revenue?: string;
  growth?: string;
  netMargin?: string;
  rdIntensity?: string;
  totalAssets?: string;
  creditRating?: string;
  patents?: string;
  /** Raw figures for what-stands-out: growth in tenths of a percent, latest net profit in fen, largest stake in bp. */
  growthTenths?: bigint;
  netProfit?: bigint;
  largestStake?: number;
  pledged: boolean;
}

/** Fields with a section of their own, or shown in the section's heading line. */
const SECTIONED = new Set(['financials', 'shareholders', 'riskNotes', 'contacts', 'name', 'industry', 'city', TRUNCATED_KEY]);

const LABELS: Record<string, string> = {
  unifiedSocialCreditCode: 'unified social credit code',
  establishedDate: 'established',
  registeredCapital: 'registered capital',
  legalRepresentative: 'legal representative',
  creditRating: 'credit rating',
  patentCount: 'patents',
  tags: 'tags',
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Any value as plain text, never JSON: a money object as `amount currency`, an object as `key: value; …`,
 * a list as its items joined by `; `. Depth-limited: what is nested deeper is summarised.
 */
export function plainText(v: unknown, depth = 0): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (depth >= 3) return Array.isArray(v) ? `(${v.length} items)` : '(nested fields)';
  if (Array.isArray(v)) return v.length ? v.map((x) => (isObject(x) || Array.isArray(x) ? `(${plainText(x, depth + 1)})` : plainText(x, depth + 1))).join('; ') : '—';
  if (isObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 2 && 'amount' in v && 'currency' in v && typeof v.amount !== 'object' && typeof v.currency !== 'object') return `${String(v.amount)} ${String(v.currency)}`;
    return keys.length ? keys.map((k) => `${k}: ${plainText(v[k], depth + 1)}`).join('; ') : '—';
  }
  return '—';
}

function yearOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{4}$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1800 && n <= 2200 ? n : undefined;
}

function financialsOf(v: unknown): YearFigures[] {
  const byYear = new Map<number, YearFigures>();
  for (const entry of Array.isArray(v) ? v : []) {
    if (!isObject(entry)) continue;
    const year = yearOf(entry.year);
    if (year === undefined || byYear.has(year)) continue;
    byYear.set(year, { year, revenue: amountOf(entry.revenue), netProfit: amountOf(entry.netProfit), totalAssets: amountOf(entry.totalAssets), rdExpense: amountOf(entry.rdExpense) });
  }
  return [...byYear.values()].sort((a, b) => a.year - b.year);
}

function shareholdersOf(v: unknown): Shareholder[] {
  const out: Shareholder[] = [];
  for (const entry of Array.isArray(v) ? v : []) {
    if (!isObject(entry)) continue;
    out.push({ name: plainText(entry.name), type: plainText(entry.type), stake: basisPoints(entry.stakePercent) });
  }
  return out.sort((a, b) => (b.stake ?? -1) - (a.stake ?? -1));
}

/** Reads a bought record (as stored: capped to our limits) for the report. */
export function readRecord(detail: Record<string, unknown> | null | undefined): RecordFacts {
  const d = detail ?? {};
  const profile: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(d)) {
    if (SECTIONED.has(k)) continue;
    profile.push([LABELS[k] ?? k, plainText(v)]);
  }
  const contacts = isObject(d.contacts) ? Object.entries(d.contacts).map(([k, v]): [string, string] => [k, plainText(v)]) : d.contacts === undefined ? [] : [['contacts', plainText(d.contacts)] as [string, string]];
  const patents = typeof d.patentCount === 'number' && Number.isSafeInteger(d.patentCount) && d.patentCount >= 0 ? d.patentCount : undefined;
  return {
    profile,
    financials: financialsOf(d.financials),
    shareholders: shareholdersOf(d.shareholders),
    riskNotes: Array.isArray(d.riskNotes) ? d.riskNotes.map((n) => plainText(n)) : d.riskNotes === undefined ? [] : [plainText(d.riskNotes)],
    contacts,
    creditRating: typeof d.creditRating === 'string' && d.creditRating.trim() ? d.creditRating.trim() : undefined,
    patents,
  };
}

/** The latest year's comparison figures: revenue and its growth on the year before, margins, assets. */
export function compareOf(f: RecordFacts): Comparison {
  const latest = f.financials.at(-1);
  const before = f.financials.at(-2);
  const rev = latest?.revenue;
  const grew = rev !== undefined && before?.revenue !== undefined && before.year === latest!.year - 1 ? growthTenths(rev, before.revenue) : undefined;
  return {
    year: latest?.year,
    revenue: rev === undefined ? undefined : millions(rev),
    growth: grew === undefined ? undefined : formatTenths(grew, true),
    netMargin: rev !== undefined && latest?.netProfit !== undefined ? percent(latest.netProfit, rev) : undefined,
    rdIntensity: rev !== undefined && latest?.rdExpense !== undefined ? percent(latest.rdExpense, rev) : undefined,
    totalAssets: latest?.totalAssets === undefined ? undefined : millions(latest.totalAssets),
    creditRating: f.creditRating,
    patents: f.patents === undefined ? undefined : f.patents.toLocaleString('en'),
    growthTenths: grew,
    netProfit: latest?.netProfit,
    largestStake: f.shareholders[0]?.stake,
    pledged: f.riskNotes.some((n) => /pledg/i.test(n)),
  };
}

export { formatBasisPoints };
