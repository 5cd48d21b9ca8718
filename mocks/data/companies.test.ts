import { describe, expect, it } from 'vitest';
import { parseAmount } from '../lib/money.ts';
import { COMPANIES, DATA_SEED, generateCompanies, getCompany } from './companies.ts';
import { companyDetail } from './details.ts';

describe('generated company data set', () => {
  it('has at least 200 companies with unique ids and names', () => {
    expect(COMPANIES.length).toBeGreaterThanOrEqual(200);
    expect(new Set(COMPANIES.map((c) => c.id)).size).toBe(COMPANIES.length);
    expect(new Set(COMPANIES.map((c) => c.name)).size).toBe(COMPANIES.length);
  });

  it('covers the required industries', () => {
    const industries = new Set(COMPANIES.map((c) => c.industry));
    for (const required of ['Batteries', 'Semiconductors', 'Logistics', 'Biotech', 'Solar', 'Robotics', 'Fintech', 'E-commerce']) {
      expect(industries).toContain(required);
    }
    expect(industries.size).toBeGreaterThanOrEqual(10);
  });

  it('prices every detail record between 3.00 and 20.00 CNY in integer fen', () => {
    for (const c of COMPANIES) {
      expect(Number.isInteger(c.priceFen)).toBe(true);
      expect(c.priceFen).toBeGreaterThanOrEqual(300);
      expect(c.priceFen).toBeLessThanOrEqual(2000);
    }
    expect(new Set(COMPANIES.map((c) => c.priceFen)).size).toBeGreaterThan(10);
  });

  it('is deterministic: the same seed gives the same data, another seed other data', () => {
    expect(generateCompanies(DATA_SEED)).toEqual(COMPANIES);
    expect(generateCompanies(DATA_SEED + 1).map((c) => c.id)).not.toEqual(COMPANIES.map((c) => c.id));
  });

  it('gives each company tags and a city', () => {
    for (const c of COMPANIES) {
      expect(c.tags.length).toBeGreaterThanOrEqual(2);
      expect(c.city.length).toBeGreaterThan(0);
    }
  });

  it('derives a deterministic, plausible detail record', () => {
    const company = COMPANIES[17]!;
    const detail = companyDetail(company);
    expect(companyDetail(company)).toEqual(detail);
    expect(getCompany(company.id)).toBe(company);
    expect(detail.financials.map((f) => f.year)).toEqual([2021, 2022, 2023]);
    for (const f of detail.financials) {
      expect(f.revenue).toMatch(/^\d+$/);
      expect(f.netProfit).toMatch(/^-?\d+$/);
    }
    const stakes = detail.shareholders.reduce((sum, s) => sum + parseAmount(s.stakePercent)!, 0);
    expect(stakes).toBe(10000); // 100.00 %
    expect(detail.registeredCapital.amount).toMatch(/^[1-9]\d*\.00$/);
    expect(detail.legalRepresentative).toBe(detail.shareholders[0]!.name);
    expect(companyDetail(COMPANIES[18]!)).not.toEqual(detail);
  });
});
