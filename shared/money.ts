/**
 * Money inside the system is an integer count of minor units (fen for CNY).
 * On every wire it is a decimal string with two places ("50.00"). Never floating point.
 */
export type Fen = number;

/** The only currency the system handles today. */
export const CURRENCY = 'CNY' as const;
export type Currency = typeof CURRENCY;

/** Largest budget one task may ask for: 100000.00 CNY. */
export const MAX_BUDGET_FEN: Fen = 10_000_000;

const DECIMAL = /^(0|[1-9]\d{0,12})(?:\.(\d{1,2}))?$/;

/** Why a money value was rejected; the message names the rule it broke. */
export class MoneyFormatError extends Error {}

/**
 * Parses a decimal string ("12", "12.5", "12.50") or a JSON number with at most two decimals into fen.
 * A number is read through its shortest decimal representation, so 12.5 is accepted and
 * 0.30000000000000004 (three or more decimals) is refused rather than rounded.
 */
export function parseMoney(value: string | number): Fen {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new MoneyFormatError('must be a finite amount');
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new MoneyFormatError('must be a decimal string or a number');
  }
  if (text.startsWith('-')) throw new MoneyFormatError('must not be negative');
  const match = DECIMAL.exec(text);
  if (!match) throw new MoneyFormatError('must be a decimal amount with at most two decimals, e.g. "50.00"');
  const whole = Number(match[1]);
  const cents = Number((match[2] ?? '').padEnd(2, '0'));
  const fen = whole * 100 + cents;
  if (!Number.isSafeInteger(fen)) throw new MoneyFormatError('is too large');
  return fen;
}

/** Renders fen as the wire format: "1234.50". Negative amounts keep their sign. */
export function formatMoney(fen: Fen): string {
  if (!Number.isSafeInteger(fen)) throw new MoneyFormatError(`not an integer amount of fen: ${fen}`);
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The budget figures of one task, all in fen. `spent` = captured − refunded. */
export interface BudgetFigures {
  limit: Fen;
  reserved: Fen;
  captured: Fen;
  refunded: Fen;
}

/** What is still free to reserve: limit − spent − reserved. */
export function remainingOf(b: BudgetFigures): Fen {
  return b.limit - (b.captured - b.refunded) - b.reserved;
}

/** The wire view of a budget: decimal strings and the currency. */
export function budgetView(b: BudgetFigures) {
  return {
    limit: formatMoney(b.limit),
    reserved: formatMoney(b.reserved),
    spent: formatMoney(b.captured - b.refunded),
    refunded: formatMoney(b.refunded),
    remaining: formatMoney(remainingOf(b)),
    currency: CURRENCY,
  };
}
