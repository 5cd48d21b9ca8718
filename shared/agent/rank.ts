import type { Candidate } from '../db/companies.ts';
import { ageText } from '../memory/freshness.ts';
import { formatMoney } from '../money.ts';
import { enforceRules, type Decision, type Pick, type Proposal } from './rules.ts';
import type { BasicCompany } from '../providers/index.ts';

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

/** Where a company mentions a keyword: its best place (the name, else the industry, else a tag). */
export type Place = 'name' | 'industry' | 'tag';
const PLACE_SCORE: Record<Place, number> = { name: 3, industry: 2, tag: 1 };

/** The keywords a company mentions, each at its best place, in keyword order. */
export function matchesOf(company: BasicCompany, keywords: string[]): Array<{ keyword: string; place: Place }> {
  const out: Array<{ keyword: string; place: Place }> = [];
  for (const keyword of keywords) {
    const place: Place | undefined = mentions(company.name, keyword) ? 'name' : mentions(company.industry, keyword) ? 'industry' : company.tags.some((t) => mentions(t, keyword)) ? 'tag' : undefined;
    if (place) out.push({ keyword, place });
  }
  return out;
}

/**
 * How well a company fits the keywords: per keyword, its best place — the name counts 3, the industry
 * 2, a tag 1 — times the keyword's weight (1 unless given; see keywordWeights). Taking the best place,
 * not the sum, makes a company that matches more of the keywords rank above one that matches a single
 * keyword everywhere.
 */
export function relevance(company: BasicCompany, keywords: string[], weights?: Map<string, number>): number {
  return matchesOf(company, keywords).reduce((score, m) => score + PLACE_SCORE[m.place] * (weights?.get(m.keyword) ?? 1), 0);
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

/** A free search result in its place in the ranking. */
export interface Ranked {
  company: BasicCompany;
  rank: number;
  relevance: number;
  matches: Array<{ keyword: string; place: Place }>;
}

/**
 * Ranks the free results: each company once, most relevant first, then cheaper, then by name; the
 * first {@link MAX_CANDIDATES} are kept.
 */
export function rankCandidates(results: BasicCompany[], keywords: string[], weights?: Map<string, number>): Ranked[] {
  const unique = new Map(results.map((r) => [r.id, r]));
  return [...unique.values()]
    .map((company) => ({ company, relevance: relevance(company, keywords, weights), matches: matchesOf(company, keywords) }))
    .sort((a, b) => b.relevance - a.relevance || a.company.price - b.company.price || a.company.name.localeCompare(b.company.name) || a.company.id.localeCompare(b.company.id))
    .slice(0, MAX_CANDIDATES)
    .map((r, i) => ({ ...r, rank: i + 1 }));
}

const money = (fen: number) => `${formatMoney(fen)} CNY`;

/** Why a company stands where it does: its rank and the keywords it matched. */
function standing(r: Ranked, of: number): string {
  const matched = r.matches.length ? `matches ${r.matches.map((m) => `${m.keyword} (${m.place})`).join(', ')}` : 'matches no keyword';
  return `rank ${r.rank} of ${of}; ${matched}`;
}

/** Records the tenant owns within the task's freshness window, by company id: they cost nothing now. */
export type Owned = ReadonlyMap<string, { ageSeconds: number }>;

/** What buying a candidate costs now, in fen: nothing when the tenant owns a fresh record of it, else its listed price. */
export function costNow(company: { id: string; price: number }, owned?: Owned): number {
  return owned?.has(company.id) ? 0 : company.price;
}

/**
 * The offline decision: greedily down the ranking, each company that still fits the budget, up to
 * maxCompanies; every company gets its reason (rank, keywords matched, price against what is left).
 * A company the tenant owns (`owned`) costs nothing now. Budget and prices in fen. It goes through the
 * same rules as a model's answer (shared/agent/rules.ts).
 */
export function rankingProposal(ranked: Ranked[], budget: number, maxCompanies: number, owned?: Owned): Proposal {
  const buy: Pick[] = [];
  const skip: Proposal['skip'] = [];
  let committed = 0;
  for (const r of ranked) {
    const price = costNow(r.company, owned);
    const left = budget - committed;
    const held = owned?.get(r.company.id);
    const cost = held ? `owned (bought ${ageText(held.ageSeconds)} ago), costs nothing now` : money(price);
    if (buy.length >= maxCompanies) {
      skip.push({ companyId: r.company.id, reason: `${standing(r, ranked.length)}; ${maxCompanies} already chosen (maxCompanies)` });
    } else if (price > left) {
      skip.push({ companyId: r.company.id, reason: `${standing(r, ranked.length)}; ${cost} would exceed the remaining ${money(left)}` });
    } else {
      committed += price;
      buy.push({ companyId: r.company.id, reason: held ? `${standing(r, ranked.length)}; ${cost}` : `${standing(r, ranked.length)}; ${cost} fits the remaining ${money(left)}` });
    }
  }
  return { by: 'rules', buy, skip };
}

/** The candidates to store: the ranking with the rules' decision for each. Prices in fen. */
export function candidatesOf(ranked: Ranked[], decisions: Map<string, Decision>): Candidate[] {
  return ranked.map((r) => {
    const c = r.company;
    const decision = decisions.get(c.id) ?? { action: 'skip' as const, reason: 'no decision', by: 'rules' as const };
    return {
      companyId: c.id,
      rank: r.rank,
      name: c.name,
      industry: c.industry,
      city: c.city,
      price: c.price,
      relevance: r.relevance,
      chosen: decision.action === 'buy',
      decision,
      basic: c.attributes,
    };
  });
}

/**
 * Ranks the free results and chooses what to buy offline: the ranking's proposal, through the rules,
 * each company at what buying it costs now (nothing for one the tenant owns). Prices and budget in fen.
 */
export function chooseCandidates(results: BasicCompany[], keywords: string[], budget: number, maxCompanies: number, weights?: Map<string, number>, owned?: Owned): Candidate[] {
  const ranked = rankCandidates(results, keywords, weights);
  const verdict = enforceRules({
    candidates: ranked.map((r) => ({ companyId: r.company.id, price: costNow(r.company, owned) })),
    remainingBudget: budget,
    maxCompanies,
    proposal: rankingProposal(ranked, budget, maxCompanies, owned),
  });
  return candidatesOf(ranked, verdict.decisions);
}
