/** Small statistics for the bench's figures. */

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Least-squares line y = a + b·x. */
export function linearFit(xs: number[], ys: number[]): { a: number; b: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

/** A series read over the samples: flat, or growing by so much per task. */
export function verdict(xs: number[], ys: number[], unit: (n: number) => string): string {
  // The first fifth is the start (caches, pools, JIT filling); the verdict is on the rest.
  const from = Math.floor(xs.length / 5);
  const x = xs.slice(from);
  const y = ys.slice(from);
  if (x.length < 3 || x.at(-1)! === x[0]) return 'n/a (too few samples)';
  const { b } = linearFit(x, y);
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const growth = b * (x.at(-1)! - x[0]!);
  const share = mean ? growth / mean : 0;
  const over = `${share >= 0 ? '+' : ''}${(share * 100).toFixed(Math.abs(share) < 0.05 ? 1 : 0)} % over ${x.at(-1)! - x[0]!} tasks`;
  if (Math.abs(share) < 0.05) return `flat (${over})`;
  return b > 0 ? `grows ${unit(b)} per task (${over})` : `falls ${unit(-b)} per task (${over})`;
}
