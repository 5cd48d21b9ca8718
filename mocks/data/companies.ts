import { mulberry32, pick, pickDistinct, randInt, type Prng } from '../lib/prng.ts';
import { BRANDS, CITIES, INDUSTRIES, SUFFIXES } from './vocabulary.ts';

/** One company of the marketplace's data set, as far as the free basic record shows it. */
export interface Company {
  /** Stable id, e.g. `co_3f9a12bc`. */
  readonly id: string;
  readonly name: string;
  readonly industry: string;
  readonly city: string;
  readonly tags: readonly string[];
  readonly summary: string;
  /** Year of founding. */
  readonly founded: number;
  readonly employees: number;
  /** Annual revenue band, e.g. "200M–1B CNY". */
  readonly revenueBand: string;
  readonly listed: boolean;
  readonly website: string;
  /** Price of the paid detail record, in integer fen (300–2000). */
  readonly priceFen: number;
}

/** Seed of the published data set; changing it changes every company. */
export const DATA_SEED = 20240611;

function revenueBand(employees: number, rand: Prng): string {
  const perHead = 0.4 + rand() * 1.6; // million CNY per employee
  const revenueM = employees * perHead;
  if (revenueM < 10) return '<10M CNY';
  if (revenueM < 50) return '10M–50M CNY';
  if (revenueM < 200) return '50M–200M CNY';
  if (revenueM < 1000) return '200M–1B CNY';
  return '>1B CNY';
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * Generates the data set from a seed. Deterministic: the same seed gives the same companies, in the same
 * order, with the same ids and prices.
 */
export function generateCompanies(seed: number = DATA_SEED): Company[] {
  const rand = mulberry32(seed);
  const companies: Company[] = [];
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const profile of INDUSTRIES) {
    for (let n = 0; n < profile.count; n++) {
      let name = '';
      do {
        name = `${pick(rand, BRANDS)} ${pick(rand, profile.nameWords)} ${pick(rand, SUFFIXES)}`;
      } while (names.has(name));
      names.add(name);
      let id = '';
      do {
        id = `co_${Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0')}`;
      } while (ids.has(id));
      ids.add(id);
      const city = pick(rand, CITIES);
      const extra = pickDistinct(rand, profile.tags, randInt(rand, 2, 4));
      const tags = [...new Set([...profile.coreTags, ...extra])];
      const founded = randInt(rand, 1994, 2022);
      const employees = Math.round(Math.exp(Math.log(30) + rand() * (Math.log(20000) - Math.log(30))));
      const brand = name.split(' ')[0] as string;
      const priceFen = 300 + 50 * randInt(rand, 0, 34); // 3.00 … 20.00 CNY in steps of 0.50
      companies.push({
        id,
        name,
        industry: profile.industry,
        city,
        tags,
        summary: `${name} is a ${city}-based company founded in ${founded}, working on ${profile.activity}; focus areas: ${tags.join(', ')}.`,
        founded,
        employees,
        revenueBand: revenueBand(employees, rand),
        listed: rand() < 0.3,
        website: `https://www.${slug(brand)}-${slug(profile.industry)}-${id.slice(3, 7)}.example.cn`,
        priceFen,
      });
    }
  }
  return companies;
}

/** The marketplace's data set (240 companies, generated once from {@link DATA_SEED}). */
export const COMPANIES: readonly Company[] = Object.freeze(generateCompanies());

const BY_ID = new Map(COMPANIES.map((company) => [company.id, company]));

/** Finds a company of the data set by id. */
export function getCompany(id: string): Company | undefined {
  return BY_ID.get(id);
}
