import type { Company } from '../data/companies.ts';
import { companyDetail } from '../data/details.ts';
import { formatAmount } from '../lib/money.ts';

/** The currency of every price on the marketplace. */
export const CURRENCY = 'CNY';

/** The resource string a payment is bound to: `/company/detail?id=ID`. */
export function resourcePath(id: string): string {
  return `/company/detail?id=${id}`;
}

/** Reads the company id out of a resource string; null when it is not a detail resource. */
export function parseResourcePath(resource: string): string | null {
  const match = /^\/company\/detail\?id=([A-Za-z0-9_-]+)$/.exec(resource);
  return match ? (match[1] as string) : null;
}

/** A price object as it appears on the wire: `{ amount: "12.00", currency: "CNY" }`. */
export function priceOf(company: Company): { amount: string; currency: string } {
  return { amount: formatAmount(company.priceFen), currency: CURRENCY };
}

/** The free `company_basic` JSON:API resource of a company. */
export function basicResource(company: Company): { type: 'company_basic'; id: string; attributes: Record<string, unknown> } {
  return {
    type: 'company_basic',
    id: company.id,
    attributes: {
      name: company.name,
      industry: company.industry,
      city: company.city,
      tags: company.tags,
      summary: company.summary,
      founded: company.founded,
      employees: company.employees,
      revenueBand: company.revenueBand,
      listed: company.listed,
      website: company.website,
      price: priceOf(company),
    },
  };
}

/** The paid `company_detail` JSON:API resource of a company. */
export function detailResource(company: Company): { type: 'company_detail'; id: string; attributes: Record<string, unknown> } {
  return { type: 'company_detail', id: company.id, attributes: { ...companyDetail(company) } };
}

const DETAIL_JSON = new Map<string, string>();

/** {@link detailResource} as JSON, generated once per company (a company's record never changes). */
export function detailResourceJson(company: Company): string {
  let json = DETAIL_JSON.get(company.id);
  if (json === undefined) DETAIL_JSON.set(company.id, (json = JSON.stringify(detailResource(company))));
  return json;
}
