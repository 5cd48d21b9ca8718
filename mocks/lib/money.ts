/**
 * Money on the mocks' wires: decimal strings with two places ("12.00"), integer fen inside.
 * The mocks keep their own copy of these rules on purpose: they share no code with the product.
 */

/** The largest amount any mock accepts, in fen (100,000,000.00 CNY). */
export const MAX_FEN = 10_000_000_000;

const DECIMAL = /^(0|[1-9]\d*)(\.\d{1,2})?$/;

/**
 * Parses a positive amount into integer fen. Accepts a decimal string with at most two decimals
 * ("12", "12.5", "12.50") or a JSON number with at most two decimals (12.5); rejects everything else,
 * including floats such as 0.30000000000000004, zero, negatives and exponents. Returns null when invalid.
 */
export function parseAmount(value: unknown): number | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    return null;
  }
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = (match[2] ?? '.').slice(1).padEnd(2, '0');
  const fen = whole * 100 + Number(fraction);
  if (!Number.isSafeInteger(fen) || fen <= 0 || fen > MAX_FEN) return null;
  return fen;
}

/** Renders integer fen as a decimal string with two places: 1250 → "12.50". */
export function formatAmount(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new Error(`not an integer amount of fen: ${fen}`);
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
