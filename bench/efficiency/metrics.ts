/**
 * Reading the product's Prometheus counters from each process's /metrics: SQL statements by kind
 * (arp_db_statements_total) and stage jobs by queue and outcome (arp_job_duration_seconds_count).
 */

/** One sample per series: `name{label="v",…}` → value. */
export type Samples = Map<string, number>;

export function parseProm(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const value = Number(line.slice(cut + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, cut), value);
  }
  return out;
}

/** A label's value in a series key. */
const label = (key: string, name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(key)?.[1];

/** Sum of a metric's series, grouped by one label (or all together under ''). */
export function sumBy(samples: Samples, metric: string, by?: string, where: Record<string, string[]> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of samples) {
    if (key !== metric && !key.startsWith(`${metric}{`)) continue;
    if (Object.entries(where).some(([l, allowed]) => !allowed.includes(label(key, l) ?? ''))) continue;
    const group = by ? (label(key, by) ?? '') : '';
    out.set(group, (out.get(group) ?? 0) + value);
  }
  return out;
}

/** The difference of two scrapes, series by series. */
export function delta(before: Samples, after: Samples): Samples {
  const out: Samples = new Map();
  for (const [key, value] of after) out.set(key, value - (before.get(key) ?? 0));
  return out;
}

export async function scrape(url: string, authorization?: string): Promise<Samples> {
  const res = await fetch(url, { headers: authorization ? { authorization } : {}, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return parseProm(await res.text());
}

export const STATEMENTS = 'arp_db_statements_total';
export const JOBS = 'arp_job_duration_seconds_count';
