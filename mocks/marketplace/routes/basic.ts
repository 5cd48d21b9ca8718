import type { Context } from 'hono';
import { COMPANIES } from '../../data/companies.ts';
import { sendError } from '../errors.ts';
import { basicResource } from '../resources.ts';
import { searchCompanies } from '../search.ts';

/** `GET /company/basic?keyword=K` — free search; JSON:API list of `company_basic` with `meta.total`. */
export function getCompanyBasic(c: Context): Response {
  const keyword = c.req.query('keyword');
  if (keyword === undefined || keyword.trim() === '') {
    return sendError(c, 400, 'invalid_request', 'query parameter "keyword" is required');
  }
  if (keyword.length > 200) {
    return sendError(c, 400, 'invalid_request', 'query parameter "keyword" must be at most 200 characters');
  }
  const found = searchCompanies(keyword, COMPANIES);
  return c.json({ data: found.map(basicResource), meta: { total: found.length, keyword } });
}
