import { md } from '../markdown/escape.ts';
import type { AnalysisInput, AnalysisWriter } from './writer.ts';

function countBy<T>(items: T[], key: (t: T) => string): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * A deterministic writer that needs no network: it summarises what was bought. The theme and the
 * providers' names are escaped (`md`) like every value from outside.
 */
export class OfflineWriter implements AnalysisWriter {
  readonly name = 'offline';

  async write(input: AnalysisInput): Promise<string> {
    const { companies } = input;
    if (companies.length === 0) {
      return md`No paid records were bought for “${input.theme}”, so there is nothing to analyse beyond the free search.`;
    }
    const industries = countBy(companies, (c) => c.industry).map(([k, n]) => `${k} (${n})`);
    const cities = countBy(companies, (c) => c.city || 'unknown').map(([k, n]) => `${k} (${n})`);
    const lines = [
      md`This report covers ${companies.length} compan${companies.length === 1 ? 'y' : 'ies'} bought for the theme “${input.theme}”` +
        (input.skipped ? `; ${input.skipped} further candidate(s) were found but not bought.` : '.'),
      '',
      md`- Industries: ${industries.join(', ')}`,
      md`- Cities: ${cities.join(', ')}`,
      md`- Companies: ${companies.map((c) => c.name).join(', ')}`,
      '',
      'The figures below are quoted from the paid records as delivered; this summary was written offline (no language model configured).',
    ];
    return lines.join('\n');
  }
}
