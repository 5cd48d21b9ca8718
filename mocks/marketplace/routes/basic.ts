import type { Context } from 'hono';
import { COMPANIES } from '../../data/companies.ts';
import { sendError } from '../errors.ts';
import { basicResource } from '../resources.ts';
import { indexCompanies, searchCompanies } from '../search.ts';

// Computed once at start, as the data set never changes: every company's stems, and its resource as JSON.
const INDEX = indexCompanies(COMPANIES);
const BASIC_JSON = new Map(COMPANIES.map((company) => [company, JSON.stringify(basicResource(company))]));

/** `GET /company/basic?keyword=K` — free search; JSON:API list of `company_basic` with `meta.total`. */
export function getCompanyBasic(c: Context): Response {
  const keyword = c.req.query('keyword');
  if (keyword === undefined || keyword.trim() === '') {
    return sendError(c, 400, 'invalid_request', 'query parameter "keyword" is required');
  }
  if (keyword.length > 200) {
    return sendError(c, 400, 'invalid_request', 'query parameter "keyword" must be at most 200 characters');
  }
  const found = searchCompanies(keyword, INDEX);
  // The bytes of JSON.stringify({ data: found.map(basicResource), meta: { total, keyword } }), from the stored pieces.
  const data = found.map((company) => BASIC_JSON.get(company)!).join(',');
  return c.body(`{"data":[${data}],"meta":${JSON.stringify({ total: found.length, keyword })}}`, 200, { 'Content-Type': 'application/json' });
}
