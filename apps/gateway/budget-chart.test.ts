import { describe, expect, it } from 'vitest';
import { budgetChart, chartModel, roundTop, type ChartDay } from './budget-chart.ts';

/** The dashboard's chart of budget use per day (budget-chart.ts), apart from the page. */
describe('budget chart', () => {
  const day = (d: string, spent: number, refunded = 0, released = 0): ChartDay => ({ day: d, spent, refunded, released });
  const render = async (days: ChartDay[], today: string) => String(await budgetChart(chartModel(days, today, { maxDays: 90, minDays: 14 }), 'CNY'));
  /** Each day's bar: [day, spent height, refunded height, spent y]. */
  const bars = (svg: string) =>
    [...svg.matchAll(/data-day="([\d-]+)">.*?<rect class="spent" x="\d+" y="(\d+)" width="\d+" height="(\d+)"><\/rect><rect class="refunded" x="\d+" y="(\d+)" width="\d+" height="(\d+)">/g)].map((m) => ({
      day: m[1]!,
      spentY: Number(m[2]),
      spent: Number(m[3]),
      refundedY: Number(m[4]),
      refunded: Number(m[5]),
    }));

  it('rounds the scale up to 1, 2 or 5 × 10ⁿ, at least 1.00', () => {
    expect([0, 1, 100, 101, 150, 200, 201, 499, 500, 501, 2_550, 99_999, 100_001].map(roundTop)).toEqual([100, 100, 100, 200, 200, 200, 500, 500, 500, 1000, 5000, 100_000, 200_000]);
  });

  it('has a bar for every calendar day from the first with use to today, empty days as zero; two weeks at least, 90 days at most', () => {
    const m = chartModel([day('2026-11-20', 500), day('2026-11-29', 2_550)], '2026-11-29', { maxDays: 90, minDays: 14 });
    expect(m.days.map((d) => d.day)).toEqual(Array.from({ length: 14 }, (_, i) => `2026-11-${String(16 + i).padStart(2, '0')}`));
    expect(m.days.find((d) => d.day === '2026-11-25')).toEqual(day('2026-11-25', 0));
    expect(m.top).toBe(5_000);
    const long = chartModel([day('2026-01-01', 1)], '2026-11-29', { maxDays: 90, minDays: 14 });
    expect(long.days).toHaveLength(90);
    expect(long.days.at(-1)!.day).toBe('2026-11-29');
    expect(chartModel([day('2026-11-01', 100)], '2026-11-29', { maxDays: 90, minDays: 14 }).days).toHaveLength(29);
  });

  it('draws spent at the bottom and refunded on top, in whole pixels proportional to the amounts', async () => {
    const svg = await render([day('2026-11-28', 1_000, 1_000, 300), day('2026-11-29', 4_000)], '2026-11-29');
    const b = bars(svg);
    expect(b).toHaveLength(14);
    const [d28, d29] = [b.find((x) => x.day === '2026-11-28')!, b.find((x) => x.day === '2026-11-29')!];
    // Scale 50.00 over 198 px: 40.00 → 158 px, 10.00 → 40 px; the refunded part sits right above the spent one.
    expect(d29.spent).toBe(158);
    expect(d28.spent).toBe(40);
    expect(d28.refunded).toBe(40);
    expect(d28.refundedY + d28.refunded).toBe(d28.spentY);
    expect(d29.spentY + d29.spent).toBe(d28.spentY + d28.spent);
    expect(b.filter((x) => x.day !== '2026-11-28' && x.day !== '2026-11-29').every((x) => x.spent === 0 && x.refunded === 0)).toBe(true);
    expect(svg).toContain('<title>2026-11-28: spent 10.00, refunded 10.00, released 3.00 CNY</title>');
    expect(svg).toContain('Spent in these 14 days: 50.00 CNY.');
    expect(svg).toContain('>50.00</text>');
  });

  it('escapes what it writes', async () => {
    const svg = String(await budgetChart(chartModel([day('2026-11-29', 100)], '2026-11-29', { maxDays: 90, minDays: 14 }), '<b>CNY</b>'));
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;b&gt;CNY&lt;/b&gt;');
  });
});
