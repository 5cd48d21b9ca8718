import type { Candidate } from '../../shared/db/companies.ts';
import type { BasicCompany } from '../../shared/providers/index.ts';

/** Words that describe the kind of answer wanted, not the subject: not worth a search of their own. */
const STOP_WORDS = new Set(
  'a an and or of for in on with to the by from about companies company makers maker manufacturers manufacturer firms firm suppliers supplier players player vendors vendor startups startup businesses business industry sector market leading top best china chinese'.split(' '),
);

const MAX_KEYWORDS = 5;
/** How many candidates a task keeps on record (chosen or not). */
export const MAX_CANDIDATES = 30;

/** A plain singular stem, so "batteries" and "battery" meet. */
export function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(sses|xes|ches|shes)$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/** The search keywords of a theme: its subject words, most specific first, at most five. */
export function keywordsOf(theme: string): string[] {
  const words = theme
    .toLowerCase()
    .split(/[^\p{L}\p{N}-]+/u)
    .map((w) => w.replace(/^-+|-+$/g, ''))
    .filter((w) => w.length > 1);
  const subject = words.filter((w) => !STOP_WORDS.has(w));
  const chosen = subject.length > 0 ? subject : words;
  return [...new Set(chosen.map(stem))].slice(0, MAX_KEYWORDS);
}

function mentions(text: string, keyword: string): boolean {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}-]+/u)
    .some((w) => w === keyword || stem(w) === keyword);
}

/**
 * How well a company fits the keywords: per keyword, its best place — the name counts 3, the industry
 * 2, a tag 1 — times the keyword's weight (1 unless given; see keywordWeights). Taking the best place,
 * not the sum, makes a company that matches more of the keywords rank above one that matches a single
 * keyword everywhere.
 */
export function relevance(company: BasicCompany, keywords: string[], weights?: Map<string, number>): number {
  let score = 0;
  for (const k of keywords) {
    const w = weights?.get(k) ?? 1;
    const place = mentions(company.name, k) ? 3 : mentions(company.industry, k) ? 2 : company.tags.some((t) => mentions(t, k)) ? 1 : 0;
    score += place * w;
  }
  return score;
}

/**
 * The rarer a keyword's matches, the more it says about what the user wants: in "solid-state battery
 * makers", "solid-state" narrows far more than "battery". The most common keyword weighs 1; one with
 * 2^n times fewer matches weighs 1 + n.
 */
export function keywordWeights(matches: Map<string, number>): Map<string, number> {
  const most = Math.max(1, ...matches.values());
  return new Map([...matches].map(([k, n]) => [k, 1 + Math.floor(Math.log2(most / Math.max(1, n)))]));
}

/**
 * Ranks the free results (most relevant first, then cheaper, then by name) and chooses what to buy:
 * greedily down the ranking, each company that still fits the budget, up to maxCompanies.
 * Prices and budget in fen.
 */
export function chooseCandidates(results: BasicCompany[], keywords: string[], budget: number, maxCompanies: number, weights?: Map<string, number>): Candidate[] {
  const unique = new Map(results.map((r) => [r.id, r]));
  const ranked = [...unique.values()]
    .map((c) => ({ c, score: relevance(c, keywords, weights) }))
    .sort((a, b) => b.score - a.score || a.c.price - b.c.price || a.c.name.localeCompare(b.c.name) || a.c.id.localeCompare(b.c.id))
    .slice(0, MAX_CANDIDATES);
  let committed = 0;
  let count = 0;
  return ranked.map(({ c, score }, i) => {
    const chosen = count < maxCompanies && committed + c.price <= budget;
    if (chosen) {
      committed += c.price;
      count += 1;
    }
    return {
      companyId: c.id,
      rank: i + 1,
      name: c.name,
      industry: c.industry,
      city: c.city,
      price: c.price,
      relevance: score,
      chosen,
      basic: c.attributes,
    };
  });
}
