import { formatAmount } from '../lib/money.ts';
import { hashString, mulberry32, pick, pickDistinct, randInt } from '../lib/prng.ts';
import type { Company } from './companies.ts';
import { GIVEN_NAMES, INVESTORS, RISK_NOTES, STREETS, SURNAMES } from './vocabulary.ts';

/** The paid detail record of a company (the `attributes` of a `company_detail` resource). */
export interface CompanyDetail {
  readonly name: string;
  readonly industry: string;
  readonly city: string;
  readonly tags: readonly string[];
  readonly unifiedSocialCreditCode: string;
  readonly establishedDate: string;
  readonly registeredCapital: { readonly amount: string; readonly currency: 'CNY' };
  readonly legalRepresentative: string;
  readonly shareholders: ReadonlyArray<{ readonly name: string; readonly type: 'person' | 'institution'; readonly stakePercent: string }>;
  /** Yearly figures in CNY (yuan), integers rendered as strings. */
  readonly financials: ReadonlyArray<{
    readonly year: number;
    readonly currency: 'CNY';
    readonly revenue: string;
    readonly netProfit: string;
    readonly totalAssets: string;
    readonly rdExpense: string;
  }>;
  readonly patentCount: number;
  readonly creditRating: string;
  readonly riskNotes: readonly string[];
  readonly contacts: { readonly phone: string; readonly email: string; readonly address: string };
}

const AREA_CODES: Record<string, string> = {
  Shanghai: '21', Beijing: '10', Shenzhen: '755', Guangzhou: '20', Hangzhou: '571', Suzhou: '512', Nanjing: '25',
  Wuhan: '27', Chengdu: '28', Chongqing: '23', "Xi'an": '29', Hefei: '551', Ningde: '593', Changsha: '731',
  Tianjin: '22', Xiamen: '592', Qingdao: '532', Dongguan: '769', Wuxi: '510', Changzhou: '519', Ningbo: '574',
  Zhengzhou: '371', Jinan: '531', Fuzhou: '591', Shenyang: '24', Dalian: '411', Kunming: '871',
};

const CODE_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** Splits 10000 basis points into `parts` positive shares, largest first. */
function splitStakes(rand: () => number, parts: number): number[] {
  const weights = Array.from({ length: parts }, () => 0.2 + rand());
  const total = weights.reduce((a, b) => a + b, 0);
  const stakes = weights.map((w) => Math.max(1, Math.floor((w / total) * 10000)));
  const drift = 10000 - stakes.reduce((a, b) => a + b, 0);
  stakes[0] = (stakes[0] as number) + drift;
  return stakes.sort((a, b) => b - a);
}

/**
 * Generates the detail record of a company. Deterministic: it depends only on the company (its id seeds
 * the generator), so every fetch of the same company returns the same facts.
 */
export function companyDetail(company: Company): CompanyDetail {
  const rand = mulberry32(hashString(`detail:${company.id}`));
  const person = (): string => `${pick(rand, SURNAMES)} ${pick(rand, GIVEN_NAMES)}`;

  const code = `91${randInt(rand, 110000, 659000)}${Array.from({ length: 10 }, () => pick(rand, [...CODE_CHARS])).join('')}`;
  const month = randInt(rand, 1, 12);
  const day = randInt(rand, 1, 28);
  const capitalYuan = 1_000_000 * randInt(rand, 5, 800);

  const holderCount = randInt(rand, 2, 5);
  const stakes = splitStakes(rand, holderCount);
  const investors = pickDistinct(rand, INVESTORS, holderCount);
  const founder = person();
  const shareholders = stakes.map((bp, i) => {
    const isPerson = i === 0 || rand() < 0.25;
    return {
      name: i === 0 ? founder : isPerson ? person() : (investors[i] as string),
      type: isPerson ? ('person' as const) : ('institution' as const),
      stakePercent: formatAmount(bp),
    };
  });

  let revenue = company.employees * randInt(rand, 300_000, 1_800_000);
  const financials = [];
  for (const year of [2021, 2022, 2023]) {
    revenue = Math.round(revenue * (0.85 + rand() * 0.5));
    const margin = -0.15 + rand() * 0.3;
    financials.push({
      year,
      currency: 'CNY' as const,
      revenue: String(revenue),
      netProfit: String(Math.round(revenue * margin)),
      totalAssets: String(Math.round(revenue * (0.8 + rand() * 2.2))),
      rdExpense: String(Math.round(revenue * (0.02 + rand() * 0.15))),
    });
  }

  const brand = (company.name.split(' ')[0] as string).toLowerCase();
  const area = AREA_CODES[company.city] ?? '10';
  return {
    name: company.name,
    industry: company.industry,
    city: company.city,
    tags: company.tags,
    unifiedSocialCreditCode: code,
    establishedDate: `${company.founded}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    registeredCapital: { amount: formatAmount(capitalYuan * 100), currency: 'CNY' },
    legalRepresentative: founder,
    shareholders,
    financials,
    patentCount: randInt(rand, 0, Math.max(5, Math.round(company.employees / 8))),
    creditRating: pick(rand, ['AAA', 'AA+', 'AA', 'AA-', 'A+', 'A', 'BBB']),
    riskNotes: pickDistinct(rand, RISK_NOTES, randInt(rand, 0, 3)),
    contacts: {
      phone: `+86-${area}-${randInt(rand, 5000, 8999)}-${randInt(rand, 1000, 9999)}`,
      email: `ir@${brand}-${company.id.slice(3, 7)}.example.cn`,
      address: `No. ${randInt(rand, 1, 999)} ${pick(rand, STREETS)}, ${company.city}`,
    },
  };
}
