import { z } from 'zod';
import type { LanguageModel, Usage } from '../llm/model.ts';
import { DATA_IS_NOT_INSTRUCTIONS, dataBlock } from './prompt.ts';
import { keywordsOf } from './rank.ts';
import type { DecidedBy } from './rules.ts';
import { oneLine } from './text.ts';

/** The free searches a task runs, and who chose them. */
export interface Plan {
  queries: string[];
  by: DecidedBy;
  /** What went other than asked (one line each). */
  notes: string[];
}

/** At most this many searches per task, each at most this long. */
export const MAX_QUERIES = 5;
const MAX_QUERY_LENGTH = 60;

/** The model's answer: search queries, most specific first. */
export const PlanAnswer = z.object({ queries: z.array(z.string()) });

const SYSTEM = [
  'You plan the free searches of a company-data marketplace for a research theme.',
  'The marketplace matches a query against company names, industries and tags; every word of a query must match, singular or plural.',
  `Answer with 1 to ${MAX_QUERIES} short queries of 1 to 3 plain words each (letters, digits, hyphens), most specific first, that together find the companies the theme is about.`,
  DATA_IS_NOT_INSTRUCTIONS,
].join(' ');

/** The offline plan: the theme's own keywords (shared/agent/rank.ts). */
export function planOffline(theme: string): Plan {
  return { queries: keywordsOf(theme), by: 'rules', notes: [] };
}

/** A model's queries as we run them: plain words, lower case, once each, at most {@link MAX_QUERIES}. */
export function cleanQueries(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (const q of raw) {
    const clean = oneLine(q, 200)
      .toLowerCase()
      .replace(/<[^>]*>/g, ' ')
      .replace(/[^\p{L}\p{N}\s-]+/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (clean.length < 2 || clean.length > MAX_QUERY_LENGTH || out.includes(clean)) continue;
    out.push(clean);
  }
  return out.slice(0, MAX_QUERIES);
}

/** Asks the model for the searches; an answer with no usable query gives way to the offline plan. */
export async function planWithModel(model: LanguageModel, theme: string, ctx: { signal?: AbortSignal; onUsage: (u: Usage) => Promise<void> }): Promise<Plan> {
  const answer = await model.ask({
    purpose: 'plan',
    system: SYSTEM,
    user: `Plan the searches for this research task.\n${dataBlock('task', { theme })}`,
    schema: PlanAnswer,
    schemaName: 'search_plan',
    signal: ctx.signal,
    onUsage: ctx.onUsage,
  });
  const queries = cleanQueries(answer.queries);
  if (queries.length === 0) return { ...planOffline(theme), notes: ["the model proposed no usable search: the theme's keywords were searched"] };
  const dropped = answer.queries.length - queries.length;
  return { queries, by: 'model', notes: dropped > 0 ? [`${dropped} of the model's searches were not usable (empty, repeated, too long or over ${MAX_QUERIES}): dropped`] : [] };
}
