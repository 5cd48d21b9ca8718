import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { formatMoney } from '../../shared/money.ts';

/** One UTC day of budget use, in fen (the dashboard's daily totals). */
export interface ChartDay {
  day: string;
  spent: number;
  refunded: number;
  released: number;
}

/** A chart's bars: one per calendar day of the range, empty days included, and the scale's top in fen. */
export interface ChartModel {
  days: ChartDay[];
  /** The y axis' top: a round amount (1, 2 or 5 × 10ⁿ fen) at or above the tallest bar. */
  top: number;
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const msOf = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** The smallest of 1, 2, 5 × 10ⁿ fen at or above `fen` (at least 1.00 CNY). */
export function roundTop(fen: number): number {
  let step = 100;
  for (;;) {
    for (const m of [1, 2, 5]) if (step * m >= fen) return step * m;
    step *= 10;
  }
}

/**
 * The chart's days: every calendar day from the earliest day with use (at most `maxDays` back, and at least
 * `minDays` shown) to `today`, a day without use as zero; days after `today` are left out.
 */
export function chartModel(totals: readonly ChartDay[], today: string, opts: { maxDays: number; minDays: number }): ChartModel {
  const end = msOf(today);
  const byDay = new Map(totals.map((d) => [d.day, d]));
  const earliest = totals.reduce((min, d) => Math.min(min, msOf(d.day)), end);
  const span = Math.min(Math.max(Math.round((end - earliest) / DAY_MS) + 1, opts.minDays), opts.maxDays);
  const days: ChartDay[] = [];
  for (let i = span - 1; i >= 0; i--) {
    const day = dayOf(end - i * DAY_MS);
    days.push(byDay.get(day) ?? { day, spent: 0, refunded: 0, released: 0 });
  }
  const tallest = days.reduce((max, d) => Math.max(max, d.spent + d.refunded), 0);
  return { days, top: roundTop(tallest) };
}

const W = 960;
const H = 240;
const PAD = { left: 64, right: 8, top: 12, bottom: 30 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

/**
 * The dashboard's chart of budget use per day, as inline SVG (no script, no external file; the CSP's
 * style rules cover it): for each UTC day a bar of what was charged — spent (captured − refunded) at the
 * bottom, refunded on top — with a tooltip giving the day's spent, refunded and released amounts. Every
 * value is escaped by hono/html. Heights are whole pixels computed in integers.
 */
export function budgetChart(model: ChartModel, currency: string): HtmlEscapedString | Promise<HtmlEscapedString> {
  const n = model.days.length;
  const slot = PLOT_W / n;
  const barW = Math.max(1, Math.floor(slot * 0.7));
  const y = (fen: number) => Math.round((fen * PLOT_H) / model.top);
  const total = model.days.reduce((s, d) => s + d.spent, 0);
  const first = model.days[0]!.day;
  const last = model.days[n - 1]!.day;
  const labels = [...new Set([0, Math.floor((n - 1) / 2), n - 1])];
  const ticks = [0, model.top / 2, model.top];
  return html`<svg id="budget-chart" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="budget-chart-title budget-chart-desc" preserveAspectRatio="xMidYMid meet">
<title id="budget-chart-title">Budget use per day (UTC), ${first} to ${last}</title>
<desc id="budget-chart-desc">Spent in these ${n} days: ${formatMoney(total)} ${currency}. Each bar is a day's charged money: spent, with what was refunded on top.</desc>
${ticks.map(
  (t) => html`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + PLOT_H - y(t)}" y2="${PAD.top + PLOT_H - y(t)}"></line><text class="axis" x="${PAD.left - 6}" y="${PAD.top + PLOT_H - y(t) + 4}" text-anchor="end">${formatMoney(Math.round(t))}</text>`,
)}
${model.days.map((d, i) => {
  const x = Math.round(PAD.left + i * slot + (slot - barW) / 2);
  const hSpent = y(d.spent);
  const hBack = y(d.refunded);
  const base = PAD.top + PLOT_H;
  return html`<g class="day" data-day="${d.day}"><title>${d.day}: spent ${formatMoney(d.spent)}, refunded ${formatMoney(d.refunded)}, released ${formatMoney(d.released)} ${currency}</title><rect class="slot" x="${Math.round(PAD.left + i * slot)}" y="${PAD.top}" width="${Math.max(1, Math.round(slot))}" height="${PLOT_H}"></rect><rect class="spent" x="${x}" y="${base - hSpent}" width="${barW}" height="${hSpent}"></rect><rect class="refunded" x="${x}" y="${base - hSpent - hBack}" width="${barW}" height="${hBack}"></rect></g>`;
})}
${labels.map((i) => html`<text class="axis" x="${Math.round(PAD.left + i * slot + slot / 2)}" y="${H - 8}" text-anchor="${i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle'}">${model.days[i]!.day}</text>`)}
</svg>`;
}
