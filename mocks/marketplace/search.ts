import type { Company } from '../data/companies.ts';

/**
 * Keyword search over the data set: case-insensitive, over name, industry and tags, singular or plural
 * ("battery" finds "Batteries"). A keyword of several words matches companies that match every word;
 * filler words such as "makers" or "companies" are ignored when other words remain.
 */

const FILLER = new Set([
  'a', 'an', 'the', 'and', 'or', 'of', 'in', 'for', 'with', 'company', 'companies', 'maker', 'makers',
  'manufacturer', 'manufacturers', 'supplier', 'suppliers', 'firm', 'firms', 'producer', 'producers',
  'provider', 'providers', 'player', 'players', 'china', 'chinese',
]);

/** Reduces an English word to a singular stem: "batteries" → "battery", "boxes" → "box", "chips" → "chip". */
export function stem(word: string): string {
  const w = word.toLowerCase();
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 4 && /(ss|sh|ch|x|z)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) return w.slice(0, -1);
  return w;
}

/** The stems a text offers to matching: each word, plus the text with its separators removed. */
function fieldStems(text: string): string[] {
  const lower = text.toLowerCase();
  const words = lower.split(/[^a-z0-9]+/).filter(Boolean);
  return [...words.map(stem), stem(lower.replace(/[^a-z0-9]+/g, ''))];
}

/** Where a term matched, for ranking: name beats industry beats tags. */
type Hit = 'name' | 'industry' | 'tag';
const WEIGHT: Record<Hit, number> = { name: 3, industry: 2, tag: 1 };

/** A company's search stems, by field. */
interface Stems {
  name: Set<string>;
  industry: Set<string>;
  tags: Set<string>;
}

/** The companies with their stems and their place in name order, computed once (a search only stems its own terms). */
export interface SearchIndex {
  readonly entries: ReadonlyArray<{ company: Company; stems: Stems; nameRank: number }>;
}

/** Stems every company once, and sorts them by name once, for {@link searchCompanies}. */
export function indexCompanies(companies: readonly Company[]): SearchIndex {
  const byName = [...companies].sort((a, b) => a.name.localeCompare(b.name));
  const rank = new Map(byName.map((company, i) => [company, i]));
  return {
    entries: companies.map((company) => ({
      company,
      stems: { name: new Set(fieldStems(company.name)), industry: new Set(fieldStems(company.industry)), tags: new Set(company.tags.flatMap(fieldStems)) },
      nameRank: rank.get(company)!,
    })),
  };
}

/** A search term as matching reads it: the whole term joined, and its words, each stemmed. */
interface Term {
  joined: string;
  parts: string[];
}

function termOf(term: string): Term {
  return { joined: stem(term.replace(/[^a-z0-9]+/g, '')), parts: term.split(/[^a-z0-9]+/).filter(Boolean).map(stem) };
}

/** The term is in the set: joined, or every one of its words (no closure made per company: this runs for each). */
function inSet(term: Term, set: Set<string>): boolean {
  if (set.has(term.joined)) return true;
  if (term.parts.length === 0) return false;
  for (const part of term.parts) if (!set.has(part)) return false;
  return true;
}

function termHit(term: Term, stems: Stems): Hit | null {
  if (inSet(term, stems.name)) return 'name';
  if (inSet(term, stems.industry)) return 'industry';
  if (inSet(term, stems.tags)) return 'tag';
  return null;
}

/** Splits a keyword into search terms, dropping filler words unless nothing else remains. */
export function searchTerms(keyword: string): string[] {
  const terms = keyword
    .toLowerCase()
    .split(/[\s,;/]+/)
    .map((t) => t.replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, ''))
    .filter((t) => /[a-z0-9]/.test(t));
  const meaningful = terms.filter((t) => !FILLER.has(t));
  return meaningful.length > 0 ? meaningful : terms;
}

/** Returns the companies matching `keyword`, best first (name matches, then industry, then tags; then by name). */
export function searchCompanies(keyword: string, index: SearchIndex): Company[] {
  const terms = searchTerms(keyword).map(termOf);
  if (terms.length === 0) return [];
  const scored: Array<{ company: Company; score: number; nameRank: number }> = [];
  for (const { company, stems, nameRank } of index.entries) {
    let score = 0;
    let all = true;
    for (const term of terms) {
      const hit = termHit(term, stems);
      if (!hit) {
        all = false;
        break;
      }
      score += WEIGHT[hit];
    }
    if (all) scored.push({ company, score, nameRank });
  }
  // By name as localeCompare orders names (ranked once, in the index; a stable sort keeps ties in data-set order either way).
  scored.sort((a, b) => b.score - a.score || a.nameRank - b.nameRank);
  return scored.map((s) => s.company);
}
