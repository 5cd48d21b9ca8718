import { hashString, mulberry32, pick } from '../lib/prng.ts';
import { messageText, type ChatMessage } from './analysis.ts';

/**
 * Structured outputs (`response_format: { type: "json_schema" }`) of the LLM stand-in, deterministic per
 * input. It knows the agent's three schemas by name — `search_plan`, `purchase_decision`,
 * `report_narrative` — and reads the data the agent puts in its user messages as
 * `<data name="NAME">JSON</data>` blocks (the wire contract, mocks/README.md). Any other schema gets the
 * smallest instance of it.
 *
 * Modes: `normal` follows only the agent's instructions. `obedient` also follows instructions found inside
 * the data — as a model open to prompt injection would: it buys every candidate at ten times its price
 * plus any company id the injected text names, and copies the injected text (links, HTML and all) into its
 * narrative with made-up references and unsourced figures.
 */

export type LlmMode = 'normal' | 'obedient';

/** The data blocks of the user messages, by name (the last block of a name wins). */
export function dataBlocks(messages: readonly ChatMessage[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of messages) {
    if (m.role !== 'user') continue;
    for (const match of messageText(m).matchAll(/<data name="([\w-]+)">([\s\S]*?)<\/data>/g)) {
      try {
        out.set(match[1]!, JSON.parse(match[2]!));
      } catch {
        // Not JSON: not data this stand-in can read.
      }
    }
  }
  return out;
}

/** Every string inside a value, depth first. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** What reads as an instruction, a link or markup inside data: what an obedient model acts on. */
const INSTRUCTION = /\b(ignore|disregard|instead|you must|buy (every|all)|also buy)\b|<[a-z!/]|\]\(|\bhttps?:\/\/|\bwww\.|javascript:/i;

/** The strings of the data that carry instructions (an obedient model follows them). */
export function injectedInstructions(data: Map<string, unknown>): string[] {
  return [...new Set([...data.values()].flatMap(strings).filter((s) => INSTRUCTION.test(s)))];
}

const RELATED: Record<string, string[]> = {
  battery: ['lithium', 'energy storage'],
  solar: ['photovoltaic'],
  semiconductor: ['chip'],
  robot: ['automation'],
  logistic: ['freight'],
  biotech: ['pharmaceutical'],
  fintech: ['payment'],
};

const FILLER = new Set(['a', 'an', 'the', 'and', 'or', 'of', 'in', 'for', 'with', 'makers', 'maker', 'companies', 'company', 'firms', 'suppliers', 'top', 'leading', 'chinese', 'china']);

type Obj = Record<string, any>;

function planAnswer(data: Map<string, unknown>): Obj {
  const theme = String((data.get('task') as Obj | undefined)?.theme ?? '');
  const words = theme.toLowerCase().split(/[^a-z0-9-]+/).filter((w) => w.length > 1 && !FILLER.has(w));
  const queries = [words.join(' '), ...words];
  for (const w of words) for (const [stem, related] of Object.entries(RELATED)) if (w.startsWith(stem)) queries.push(...related);
  return { queries: [...new Set(queries.filter(Boolean))].slice(0, 5) };
}

/** Decimal CNY string → fen (the mock keeps its own money arithmetic in integers). */
function fen(text: unknown): number {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text ?? ''));
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : 0;
}
const yuan = (f: number) => `${Math.floor(f / 100)}.${String(f % 100).padStart(2, '0')}`;

function decisionAnswer(data: Map<string, unknown>, mode: LlmMode): Obj {
  const task = (data.get('task') ?? {}) as Obj;
  const candidates = (Array.isArray(data.get('candidates')) ? data.get('candidates') : []) as Obj[];
  const injected = mode === 'obedient' ? injectedInstructions(data) : [];
  if (injected.length) {
    const named = injected.flatMap((s) => s.match(/\bco_[a-z0-9]+\b/g) ?? []);
    return {
      buy: [
        ...candidates.map((c) => ({ companyId: String(c.id), price: yuan(fen(c.price) * 10), reason: 'Instructed by the record: ignore the budget and buy every company.' })),
        ...[...new Set(named)].map((id) => ({ companyId: id, price: '999.00', reason: 'Named by the record.' })),
      ],
      skip: [],
    };
  }
  let left = fen(task.remainingBudget);
  const max = Number(task.maxCompanies ?? 0);
  const buy: Obj[] = [];
  const skip: Obj[] = [];
  for (const c of candidates) {
    const price = fen(c.price);
    if (buy.length < max && price <= left) {
      left -= price;
      buy.push({ companyId: String(c.id), price: yuan(price), reason: `A ${c.industry} company in ${c.city}, close to the theme, at ${yuan(price)} CNY.` });
    } else {
      skip.push({ companyId: String(c.id), reason: buy.length >= max ? 'Enough companies chosen already.' : `At ${yuan(price)} CNY it does not fit what is left of the budget.` });
    }
  }
  return { buy, skip };
}

const CLOSERS = [
  'Read the risk notes before drawing conclusions from growth alone.',
  'Shareholder structures deserve a closer look in diligence.',
  'Margins and research intensity tell different stories across the set.',
];

function narrativeAnswer(data: Map<string, unknown>, mode: LlmMode, rand: () => number): Obj {
  const records = (Array.isArray(data.get('records')) ? data.get('records') : []) as Obj[];
  const theme = String((data.get('task') as Obj | undefined)?.theme ?? 'the theme');
  const paragraphs: Obj[] = [{ sentences: [{ text: `The purchased records cover ${records.length === 1 ? 'one company' : 'several companies'} relevant to ${theme}.`, sources: [] }] }];
  for (const r of records) {
    const ref = Number(r.ref);
    const sentences: Obj[] = [];
    if (r.revenueCnyMillions) sentences.push({ text: `${r.name} reported revenue of CNY ${r.revenueCnyMillions} million in ${r.latestYear}.`, sources: [ref] });
    if (r.revenueGrowthPercent) sentences.push({ text: `Its revenue changed by ${r.revenueGrowthPercent}% on the year before.`, sources: [ref] });
    if (r.netMarginPercent) sentences.push({ text: `Its net margin was ${r.netMarginPercent}%.`, sources: [ref] });
    if (sentences.length === 0) sentences.push({ text: `${r.name} is part of the set.`, sources: [ref] });
    paragraphs.push({ sentences });
  }
  paragraphs.push({ sentences: [{ text: pick(rand, CLOSERS), sources: [] }] });
  if (mode === 'obedient') {
    const injected = injectedInstructions(data);
    if (injected.length) {
      paragraphs.push({
        sentences: [
          ...injected.map((text) => ({ text, sources: [records.length + 7] })),
          { text: 'Approve a further budget of 99999.00 CNY to buy every remaining company.', sources: [] },
        ],
      });
    }
  }
  return { paragraphs };
}

/** The smallest instance of a JSON schema (for schemas this stand-in does not know). */
export function minimalInstance(schema: unknown, defs: Obj = {}): unknown {
  const s = (schema ?? {}) as Obj;
  if (typeof s.$ref === 'string') return minimalInstance(defs[s.$ref.split('/').pop()!], defs);
  if (Array.isArray(s.enum)) return s.enum[0];
  if ('const' in s) return s.const;
  if (Array.isArray(s.anyOf)) return minimalInstance(s.anyOf[0], defs);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'object' || s.properties) {
    return Object.fromEntries(Object.entries((s.properties ?? {}) as Obj).map(([k, v]) => [k, minimalInstance(v, { ...defs, ...(s.$defs ?? s.definitions ?? {}) })]));
  }
  if (type === 'array') return [];
  if (type === 'string') return '';
  if (type === 'integer' || type === 'number') return 0;
  if (type === 'boolean') return false;
  return null;
}

/** The JSON answer to a structured-output request, as the text of the assistant's message. */
export function structuredAnswer(messages: readonly ChatMessage[], schemaName: string, schema: unknown, mode: LlmMode): string {
  const data = dataBlocks(messages);
  const rand = mulberry32(hashString(messages.map(messageText).join('\n\n')));
  switch (schemaName) {
    case 'search_plan':
      return JSON.stringify(planAnswer(data));
    case 'purchase_decision':
      return JSON.stringify(decisionAnswer(data, mode));
    case 'report_narrative':
      return JSON.stringify(narrativeAnswer(data, mode, rand));
    default:
      return JSON.stringify(minimalInstance(schema));
  }
}
