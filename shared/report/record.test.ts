import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amountOf, basisPoints, growthTenths, millions, percent } from './figures.ts';
import { highlights } from './highlights.ts';
import type { ReportCompany } from './narrative.ts';
import { compareOf, plainText, readRecord } from './record.ts';

describe('figures: integers in, text out, rounded half away from zero', () => {
  it('reads amounts in yuan (strings or numbers, at most two decimals) as fen, and nothing else', () => {
    expect(amountOf('123456789')).toBe(12_345_678_900n);
    expect(amountOf('-1.5')).toBe(-150n);
    expect(amountOf(42)).toBe(4200n);
    expect(amountOf('99999999999999999')).toBe(9_999_999_999_999_999_900n);
    for (const bad of ['1e6', '12.345', '', ' ', 'abc', null, undefined, {}, [], Number.NaN, '0x10', '1,000']) expect(amountOf(bad)).toBeUndefined();
  });

  it('writes CNY millions with one decimal and separators', () => {
    expect(millions(12_345_678_900n)).toBe('123.5');
    expect(millions(1_234_567_890_000n)).toBe('12,345.7');
    expect(millions(4_999_999n)).toBe('0.0');
    expect(millions(5_000_000n)).toBe('0.1');
    expect(millions(-5_000_000n)).toBe('-0.1');
    expect(millions(0n)).toBe('0.0');
  });

  it('writes ratios as percentages with one decimal, and refuses a denominator that is not positive', () => {
    expect(percent(1n, 3n)).toBe('33.3%');
    expect(percent(2n, 3n)).toBe('66.7%');
    expect(percent(-1n, 8n)).toBe('-12.5%');
    expect(percent(1n, 0n)).toBeUndefined();
    expect(percent(1n, -5n)).toBeUndefined();
    expect(growthTenths(150n, 120n)).toBe(250n);
    expect(growthTenths(100n, 0n)).toBeUndefined();
  });

  it('rounds exactly: the shown figure is within half a unit of the exact value, for any amounts', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }), fc.bigInt({ min: 1n, max: 10n ** 17n }), (n, d) => {
        // millions: shown × 10^7 fen is within 5 × 10^6 fen of n.
        const shown = BigInt(millions(n).replace(/[,.]/g, ''));
        const diff = shown * 10_000_000n - n;
        expect(diff <= 5_000_000n && diff >= -5_000_000n).toBe(true);
        // percent: shown tenths × d is within d/2 of n × 1000.
        const t = BigInt(percent(n, d)!.replace(/[,.%]/g, ''));
        const e = t * d - n * 1000n;
        expect(2n * (e < 0n ? -e : e) <= d).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('reads stakes as basis points of 0–100 %', () => {
    expect(basisPoints('62.10')).toBe(6210);
    expect(basisPoints(5)).toBe(500);
    expect(basisPoints('100')).toBe(10_000);
    expect(basisPoints('100.01')).toBeUndefined();
    expect(basisPoints('-1')).toBeUndefined();
    expect(basisPoints('1.234')).toBeUndefined();
  });
});

describe('readRecord: a third party record, read defensively, never shown as JSON', () => {
  it('writes any value as plain text', () => {
    expect(plainText({ amount: '5000000.00', currency: 'CNY' })).toBe('5000000.00 CNY');
    expect(plainText({ a: 1, b: [1, { c: 'x' }] })).toBe('a: 1; b: 1; (c: x)');
    expect(plainText([[[[['deep']]]]])).toBe('((((1 items))))');
    expect(plainText(null)).toBe('—');
    fc.assert(
      // Values whose own text has no brace, bracket, quote or colon: whatever braces come out are JSON's.
      fc.property(fc.jsonValue({ stringUnit: fc.constantFrom('a', 'b', ' ', '1', '.', '-') }), (v) => {
        const text = plainText(v);
        expect(text).not.toMatch(/[{}"[\]]/);
      }),
      { numRuns: 300 },
    );
  });

  it('orders financials by year, one per year, ignoring entries that are not', () => {
    const f = readRecord({ financials: [{ year: 2023, revenue: '3' }, { year: 2021, revenue: '1' }, { year: 'x' }, 'junk', { year: 2023, revenue: '9' }, { year: 2022, revenue: 'n/a' }] });
    expect(f.financials.map((y) => [y.year, y.revenue])).toEqual([
      [2021, 100n],
      [2022, undefined],
      [2023, 300n],
    ]);
  });

  it('compares only consecutive years, and shows nothing it cannot compute', () => {
    const gap = compareOf(readRecord({ financials: [{ year: 2020, revenue: '100' }, { year: 2023, revenue: '200', netProfit: 'x' }] }));
    expect(gap).toMatchObject({ year: 2023, revenue: '0.0', growth: undefined, netMargin: undefined });
    const none = compareOf(readRecord({}));
    expect(none).toEqual({ pledged: false, year: undefined, revenue: undefined, growth: undefined, netMargin: undefined, rdIntensity: undefined, totalAssets: undefined, creditRating: undefined, patents: undefined, growthTenths: undefined, netProfit: undefined, largestStake: undefined });
  });
});

describe('highlights: what stands out, each citing its record', () => {
  const company = (ref: number, name: string, detail: Record<string, unknown>): ReportCompany => {
    const facts = readRecord(detail);
    return { ref, name, industry: 'x', city: 'y', facts, cmp: compareOf(facts), origin: 'bought' };
  };
  const fin = (a: string, b: string, profit = '1') => [
    { year: 2022, revenue: a, netProfit: '1' },
    { year: 2023, revenue: b, netProfit: profit },
  ];

  it('names the fastest grower, every loss, concentrated ownership and pledged equity', () => {
    const cs = [
      company(1, 'Slow', { financials: fin('100', '110'), shareholders: [{ name: 'A', type: 'person', stakePercent: '49.99' }] }),
      company(2, 'Fast', { financials: fin('100', '150', '-20000000'), shareholders: [{ name: 'Boss', type: 'person', stakePercent: '50.00' }] }),
      company(3, 'Pledged', { riskNotes: ['Equity of a major shareholder pledged as collateral.'] }),
    ];
    expect(highlights(cs)).toEqual([
      { text: 'Fast grew fastest: revenue +50.0% in 2023 on the year before.', sources: [2] },
      { text: 'Fast made a loss: a net loss of CNY 20.0 million in 2023.', sources: [2] },
      { text: 'Fast has concentrated ownership: Boss holds 50.00%.', sources: [2] },
      { text: 'Pledged has pledged equity: its record notes shares pledged as collateral.', sources: [3] },
    ]);
  });

  it('says who shrank least when every company shrank, and nothing when nothing stands out', () => {
    expect(highlights([company(1, 'A', { financials: fin('100', '90') }), company(2, 'B', { financials: fin('100', '80') })])[0]!.text).toBe('A shrank least: revenue -10.0% in 2023 on the year before.');
    expect(highlights([company(1, 'A', {})])).toEqual([]);
  });
});
