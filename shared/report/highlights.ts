import { formatTenths, millions } from './figures.ts';
import type { ReportCompany, Sentence } from './narrative.ts';
import { formatBasisPoints } from './record.ts';

/** A largest shareholder at or above this share (basis points) makes ownership concentrated: control. */
export const CONCENTRATED_BP = 5_000;

/**
 * What stands out among the bought companies, computed from their records: the fastest revenue growth,
 * losses in the latest year, concentrated ownership (a shareholder with half or more), and pledged
 * equity (a risk note that says so). One sentence each, citing the record it comes from.
 */
export function highlights(companies: readonly ReportCompany[]): Sentence[] {
  const out: Sentence[] = [];
  const growing = companies.filter((c) => c.cmp.growthTenths !== undefined);
  if (growing.length) {
    const top = growing.reduce((a, b) => (b.cmp.growthTenths! > a.cmp.growthTenths! ? b : a));
    const verb = top.cmp.growthTenths! >= 0n ? 'grew fastest' : 'shrank least';
    out.push({ text: `${top.name} ${verb}: revenue ${formatTenths(top.cmp.growthTenths!, true)} in ${top.cmp.year} on the year before.`, sources: [top.ref] });
  }
  for (const c of companies) {
    if (c.cmp.netProfit !== undefined && c.cmp.netProfit < 0n) {
      out.push({ text: `${c.name} made a loss: a net loss of CNY ${millions(-c.cmp.netProfit)} million in ${c.cmp.year}.`, sources: [c.ref] });
    }
  }
  for (const c of companies) {
    if (c.cmp.largestStake !== undefined && c.cmp.largestStake >= CONCENTRATED_BP) {
      const holder = c.facts.shareholders[0]!;
      out.push({ text: `${c.name} has concentrated ownership: ${holder.name} holds ${formatBasisPoints(c.cmp.largestStake)}.`, sources: [c.ref] });
    }
  }
  for (const c of companies) {
    if (c.cmp.pledged) out.push({ text: `${c.name} has pledged equity: its record notes shares pledged as collateral.`, sources: [c.ref] });
  }
  return out;
}
