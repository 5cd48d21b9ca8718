/**
 * Figures of the report, computed in integers (bigint fen), never floating point: amounts in CNY millions
 * with one decimal, ratios as percentages with one decimal, both rounded half away from zero.
 */

/** A record's amount in yuan (a decimal string or a number, at most two decimals) as bigint fen; undefined when it is not one. */
export function amountOf(value: unknown): bigint | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return undefined;
  }
  const m = /^(-)?(\d{1,18})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return undefined;
  const fen = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -fen : fen;
}

/** n / d rounded half away from zero (d > 0). */
function divRound(n: bigint, d: bigint): bigint {
  const q = ((n < 0n ? -n : n) * 2n + d) / (2n * d);
  return n < 0n ? -q : q;
}

/** Tenths as text with thousands separators: 12345 → "1,234.5", -5 → "-0.5". */
function tenths(t: bigint): string {
  const sign = t < 0n ? '-' : '';
  const abs = t < 0n ? -t : t;
  const whole = (abs / 10n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${whole}.${abs % 10n}`;
}

/** Fen as CNY millions with one decimal: 123_456_789_00n (123,456,789 yuan) → "123.5". */
export function millions(fen: bigint): string {
  return tenths(divRound(fen, 10_000_000n));
}

/** num / den in tenths of a percent, rounded half away from zero; undefined when den is not positive. */
export function ratioTenths(num: bigint, den: bigint): bigint | undefined {
  return den > 0n ? divRound(num * 1000n, den) : undefined;
}

/** Tenths of a percent as text: 123n → "12.3%", or "+12.3%" when `signed`. */
export function formatTenths(t: bigint, signed = false): string {
  return `${signed && t >= 0n ? '+' : ''}${tenths(t)}%`;
}

/** num / den as a percentage with one decimal ("12.3%"); undefined when den is not positive. */
export function percent(num: bigint, den: bigint): string | undefined {
  const t = ratioTenths(num, den);
  return t === undefined ? undefined : formatTenths(t);
}

/** Growth from `before` to `now` in tenths of a percent; undefined unless `before` is positive. */
export function growthTenths(now: bigint, before: bigint): bigint | undefined {
  return ratioTenths(now - before, before);
}

/** A share in percent ("62.10", 62.1) as basis points; undefined when it is not a share from 0 to 100. */
export function basisPoints(value: unknown): number | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim().replace(/%$/, '') : undefined;
  const m = text === undefined ? null : /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return undefined;
  const bp = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return bp <= 10_000 ? bp : undefined;
}

/** Basis points as a percentage with two decimals: 6210 → "62.10%". */
export function formatBasisPoints(bp: number): string {
  return `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`;
}
