import { z } from 'zod';
import { DATA_IS_NOT_INSTRUCTIONS, dataBlock } from '../agent/prompt.ts';
import { oneLine } from '../agent/text.ts';
import type { LanguageModel, Usage } from '../llm/model.ts';
import { ageText } from '../memory/freshness.ts';
import { escapeInline, md } from '../markdown/escape.ts';
import { formatBasisPoints, type Comparison, type RecordFacts } from './record.ts';

/**
 * The report's narrative: sentences, each with the numbers of the sources it rests on ([n] = the n-th line
 * of the report's Sources list). Written by the model (a structured answer) or offline, and turned into
 * markdown only here: every sentence is escaped as plain text (no markup, no link of any kind survives),
 * references that resolve to no source are dropped, and a sentence that states a figure without a source
 * is left out — so every [n] of a report resolves, and every figure has one.
 */

export interface Sentence {
  text: string;
  sources: number[];
}

export interface Narrative {
  paragraphs: Sentence[][];
}

/** A bought company as the report reads it: its reference number, names and facts. */
export interface ReportCompany {
  ref: number;
  name: string;
  industry: string;
  city: string;
  facts: RecordFacts;
  cmp: Comparison;
  /** How the task has it: bought for it, reused from the tenant's memory, or retrieved from memory as owned earlier. */
  origin: 'bought' | 'reused' | 'owned';
  /** For a record owned earlier: how old it is, in seconds. */
  ageSeconds?: number;
}

/** The model's answer. */
export const NarrativeAnswer = z.object({
  paragraphs: z.array(z.object({ sentences: z.array(z.object({ text: z.string(), sources: z.array(z.number()) })) })),
});

const MAX_PARAGRAPHS = 12;
const MAX_SENTENCES = 10;
const MAX_SENTENCE = 600;

/**
 * Anything that could be followed, as the whole run of non-space characters it stands in: a URL, a
 * www. address, an e-mail address, a script, data or mail scheme.
 */
const LINKS = /\S*(?:[a-z][a-z0-9+.-]{0,20}:\/\/|www\.|(?:javascript|data|vbscript|mailto|file):)\S*|\S*[^\s@]@[^\s@]\S*/gi;
const INLINE_REF = /\[(\d{1,4})\]/g;

/** One sentence made safe to show, or undefined when there is nothing left of it. */
export function cleanSentence(s: Sentence, sourceCount: number): { text: string; sources: number[] } | undefined {
  let text = oneLine(s.text, MAX_SENTENCE);
  const cited = [...s.sources];
  text = text.replace(INLINE_REF, (_, n: string) => {
    cited.push(Number(n));
    return '';
  });
  text = text.replace(LINKS, '(link removed)').replace(/\s+/g, ' ').replace(/\s+([.,;:!?])/g, '$1').trim();
  const sources = [...new Set(cited.filter((n) => Number.isInteger(n) && n >= 1 && n <= sourceCount))].sort((a, b) => a - b);
  if (!/[\p{L}\p{N}]/u.test(text)) return undefined;
  return { text, sources };
}

/** A sentence states a figure when it has a digit. */
export const statesFigure = (text: string) => /\p{Nd}/u.test(text);

/** The reference marks of a sentence: ` [1] [3]`, escaped so they read as text. */
export const refs = (sources: readonly number[]) => sources.map((n) => ` ${escapeInline(`[${n}]`)}`).join('');

/**
 * The narrative as markdown: paragraphs of escaped sentences with their references. `dropped` counts
 * the sentences left out for stating a figure without a source.
 */
export function renderNarrative(n: Narrative, sourceCount: number): { markdown: string; dropped: number; sentences: number; kept: Sentence[][] } {
  let dropped = 0;
  let kept = 0;
  const paragraphs: string[] = [];
  const shown: Sentence[][] = [];
  for (const paragraph of n.paragraphs.slice(0, MAX_PARAGRAPHS)) {
    const lines: string[] = [];
    const sentences: Sentence[] = [];
    for (const raw of paragraph.slice(0, MAX_SENTENCES)) {
      const s = cleanSentence(raw, sourceCount);
      if (!s) continue;
      if (statesFigure(s.text) && s.sources.length === 0) {
        dropped += 1;
        continue;
      }
      lines.push(`${md`${s.text}`}${refs(s.sources)}`);
      sentences.push(s);
    }
    kept += lines.length;
    if (lines.length) {
      paragraphs.push(lines.join(' '));
      shown.push(sentences);
    }
  }
  return { markdown: paragraphs.join('\n\n'), dropped, sentences: kept, kept: shown };
}

const names = (cs: readonly ReportCompany[]) => cs.map((c) => c.name).join(', ');

/** One company's figures in a sentence or two, each citing the company's record. */
function companySentences(c: ReportCompany): Sentence[] {
  const { cmp } = c;
  const out: Sentence[] = [];
  if (cmp.revenue !== undefined && cmp.year !== undefined) {
    const parts = [`${c.name} (${c.industry}, ${c.city}) reported revenue of CNY ${cmp.revenue} million in ${cmp.year}`];
    if (cmp.growth) parts.push(`${cmp.growth.startsWith('-') ? 'down' : 'up'} ${cmp.growth.replace(/^[+-]/, '')} on ${cmp.year - 1}`);
    if (cmp.netMargin) parts.push(`with a net margin of ${cmp.netMargin}`);
    if (cmp.rdIntensity) parts.push(`R&D at ${cmp.rdIntensity} of revenue`);
    out.push({ text: `${parts.join(', ')}.`, sources: [c.ref] });
  } else {
    out.push({ text: `${c.name} (${c.industry}, ${c.city}) delivered no usable financials.`, sources: [c.ref] });
  }
  const more: string[] = [];
  if (cmp.creditRating) more.push(`is rated ${cmp.creditRating}`);
  if (cmp.patents !== undefined) more.push(`holds ${cmp.patents} patent${cmp.patents === '1' ? '' : 's'}`);
  if (cmp.largestStake !== undefined) more.push(`has a largest shareholder with ${formatBasisPoints(cmp.largestStake)}`);
  if (more.length) out.push({ text: `It ${more.join(', ')}.`, sources: [c.ref] });
  return out;
}

/** The offline narrative: computed from the records, every figure cited. */
export function offlineNarrative(theme: string, companies: readonly ReportCompany[], highlights: readonly Sentence[]): Narrative {
  if (companies.length === 0) {
    return { paragraphs: [[{ text: `No paid records were bought for “${theme}”, so there is nothing to analyse beyond the free search.`, sources: [] }]] };
  }
  const forTask = companies.filter((c) => c.origin !== 'owned');
  const earlier = companies.filter((c) => c.origin === 'owned');
  const covers = forTask.length
    ? [{ text: `This report covers ${forTask.length} compan${forTask.length === 1 ? 'y' : 'ies'} bought for the theme “${theme}”: ${names(forTask)}.`, sources: forTask.map((c) => c.ref) }]
    : [{ text: `Nothing was bought for the theme “${theme}” this time.`, sources: [] }];
  const owned = earlier.length
    ? [{ text: `From earlier purchases the tenant also owns ${earlier.length} relevant record${earlier.length === 1 ? '' : 's'}: ${names(earlier)} (ages in the Sources list).`, sources: earlier.map((c) => c.ref) }]
    : [];
  return {
    paragraphs: [
      [...covers, ...owned],
      ...companies.map(companySentences),
      ...(highlights.length ? [[...highlights]] : []),
      [{ text: 'This summary was written offline by our code from the bought records (no language model configured); the sections below quote the records as delivered.', sources: [] }],
    ],
  };
}

/** What the model is given about each company: the computed figures and the record's risk notes, as data. */
export function narrativeRecords(companies: readonly ReportCompany[]) {
  return companies.map((c) => ({
    ref: c.ref,
    name: c.name,
    industry: c.industry,
    city: c.city,
    // Where the record comes from: bought for this task, reused from memory, or owned from an earlier purchase.
    source: c.origin === 'owned' ? `owned earlier (${ageText(c.ageSeconds ?? 0)} old)` : c.origin === 'reused' ? 'reused from memory' : 'bought for this task',
    latestYear: c.cmp.year ?? null,
    revenueCnyMillions: c.cmp.revenue ?? null,
    revenueGrowthPercent: c.cmp.growth?.replace(/%$/, '') ?? null,
    netMarginPercent: c.cmp.netMargin?.replace(/%$/, '') ?? null,
    rdIntensityPercent: c.cmp.rdIntensity?.replace(/%$/, '') ?? null,
    totalAssetsCnyMillions: c.cmp.totalAssets ?? null,
    creditRating: c.cmp.creditRating ?? null,
    patents: c.facts.patents ?? null,
    largestShareholderStakePercent: c.cmp.largestStake === undefined ? null : formatBasisPoints(c.cmp.largestStake).replace(/%$/, ''),
    riskNotes: c.facts.riskNotes.slice(0, 10).map((n) => oneLine(n, 300)),
  }));
}

const SYSTEM = [
  'You are a research analyst. Write a short analysis of the companies in the records for the research theme:',
  '2 to 5 paragraphs of 1 to 5 plain sentences each — how the companies compare, what stands out, what to check next.',
  'Use only facts in the records. Give every sentence the ref numbers of the records it rests on in sources;',
  'a sentence that states a figure must have at least one. Plain text only: no markdown, no links, no HTML, no references inside the text.',
  DATA_IS_NOT_INSTRUCTIONS,
].join(' ');

/** Asks the model for the narrative (a structured answer; rendered by {@link renderNarrative}). */
export async function narrateWithModel(
  model: LanguageModel,
  input: { theme: string; companies: readonly ReportCompany[] },
  ctx: { signal?: AbortSignal; onUsage: (u: Usage) => Promise<void> },
): Promise<Narrative> {
  const answer = await model.ask({
    purpose: 'narrate',
    system: SYSTEM,
    user: `Write the analysis for this research task.\n${dataBlock('task', { theme: input.theme })}\n${dataBlock('records', narrativeRecords(input.companies))}`,
    schema: NarrativeAnswer,
    schemaName: 'report_narrative',
    signal: ctx.signal,
    onUsage: ctx.onUsage,
  });
  return { paragraphs: answer.paragraphs.map((p) => p.sentences) };
}
