import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { budgetView, CURRENCY, formatMoney, MAX_BUDGET_FEN, MoneyFormatError, parseMoney, remainingOf, type BudgetFigures } from './money.ts';

/** The largest amount the wire format can carry (13 integer digits, two decimals). */
const MAX_WIRE_FEN = 999_999_999_999_999;

describe('parseMoney / formatMoney: integer fen inside, two-decimal strings on the wire (DESIGN §3)', () => {
  it('round-trips every integer amount of fen through the wire format', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_WIRE_FEN }), (fen) => {
        const wire = formatMoney(fen);
        expect(wire).toMatch(/^\d+\.\d{2}$/);
        expect(parseMoney(wire)).toBe(fen);
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips budget-sized amounts given as JSON numbers (fen / 100)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_BUDGET_FEN }), (fen) => {
        expect(parseMoney(fen / 100)).toBe(fen);
      }),
      { numRuns: 2_000 },
    );
  });

  it('normalises any accepted spelling to the two-place wire form', () => {
    const spelling = fc
      .tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.constantFrom('', '.', '.d', '.dd'), fc.integer({ min: 0, max: 99 }))
      .filter(([, shape]) => shape !== '.')
      .map(([whole, shape, cents]) => {
        const frac = shape === '' ? '' : shape === '.d' ? `.${Math.floor(cents / 10)}` : `.${String(cents).padStart(2, '0')}`;
        const fen = whole * 100 + (shape === '' ? 0 : shape === '.d' ? Math.floor(cents / 10) * 10 : cents);
        return { text: `${whole}${frac}`, fen };
      });
    fc.assert(
      fc.property(spelling, ({ text, fen }) => {
        expect(parseMoney(text)).toBe(fen);
        expect(formatMoney(parseMoney(text))).toBe(formatMoney(fen));
      }),
    );
  });

  it('compares amounts by value: "12", "12.0", "12.00", 12 and 12.0 are the same amount', () => {
    for (const v of ['12', '12.0', '12.00', 12, 12.0]) expect(parseMoney(v)).toBe(1200);
  });

  it.each([
    ['12.5', 1250],
    [12.5, 1250],
    ['12.50', 1250],
    [12.05, 1205],
    ['0.01', 1],
    [0.01, 1],
    ['0.5', 50],
    ['0', 0],
    ['0.00', 0],
    ['50.00', 5000],
    ['100000.00', MAX_BUDGET_FEN],
    [100000, MAX_BUDGET_FEN],
  ])('accepts %j as %d fen', (input, fen) => {
    expect(parseMoney(input)).toBe(fen);
  });

  it.each([
    [0.30000000000000004],
    [0.1 + 0.2],
    ['0.30000000000000004'],
    ['1.234'],
    ['12.500'],
    [12.345],
    ['1e3'],
    [1e21],
    ['-1'],
    [-1],
    ['-0.01'],
    [-12.5],
    [''],
    [' '],
    [NaN],
    [Infinity],
    [-Infinity],
    ['01.00'],
    ['00'],
    ['007'],
    ['1.'],
    ['.5'],
    ['+1'],
    ['1,00'],
    ['0x10'],
    ['12.5.0'],
    ['12 CNY'],
    ['abc'],
    ['99999999999999'],
  ])('rejects %j with a MoneyFormatError', (input) => {
    expect(() => parseMoney(input)).toThrow(MoneyFormatError);
  });

  it.each([[null], [undefined], [{}], [[12]], [true]])('rejects the non-amount %j with a MoneyFormatError', (input) => {
    expect(() => parseMoney(input as never)).toThrow(MoneyFormatError);
  });

  it.each([
    [' 12.50 ', 1250],
    ['\t7\n', 700],
  ])('accepts %j (blanks around a string are ignored) as %d fen', (input, fen) => {
    expect(parseMoney(input)).toBe(fen);
  });

  /** The rule a rejected value broke, as the API shows it to the client (errors[].message). */
  function reasonFor(input: unknown): string {
    try {
      parseMoney(input as never);
    } catch (err) {
      expect(err).toBeInstanceOf(MoneyFormatError);
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(input)} was accepted`);
  }

  it.each([
    [NaN, 'must be a finite amount'],
    [Infinity, 'must be a finite amount'],
    [-Infinity, 'must be a finite amount'],
    [null, 'must be a decimal string or a number'],
    [{ amount: '1.00' }, 'must be a decimal string or a number'],
    [true, 'must be a decimal string or a number'],
    ['-1', 'must not be negative'],
    [' -0.01', 'must not be negative'],
    [-12.5, 'must not be negative'],
    ['1.234', 'must be a decimal amount with at most two decimals, e.g. "50.00"'],
    ['1-', 'must be a decimal amount with at most two decimals, e.g. "50.00"'],
    ['abc', 'must be a decimal amount with at most two decimals, e.g. "50.00"'],
    [1e21, 'must be a decimal amount with at most two decimals, e.g. "50.00"'],
  ])('rejects %j and names the rule it broke: %s', (input, reason) => {
    expect(reasonFor(input)).toBe(reason);
  });

  it('rejects any amount with a third decimal instead of rounding it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_BUDGET_FEN }), fc.integer({ min: 1, max: 9 }), (fen, digit) => {
        const text = `${formatMoney(fen)}${digit}`;
        expect(() => parseMoney(text)).toThrow(MoneyFormatError);
        expect(() => parseMoney(Number(text))).toThrow(MoneyFormatError);
      }),
    );
  });

  it('rejects every negative amount, string or number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_BUDGET_FEN }), (fen) => {
        expect(() => parseMoney(`-${formatMoney(fen)}`)).toThrow(MoneyFormatError);
        expect(() => parseMoney(-fen / 100)).toThrow(MoneyFormatError);
      }),
    );
  });

  it('rejects whole parts with leading zeros', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 1, max: 3 }), (whole, zeros) => {
        expect(() => parseMoney(`${'0'.repeat(zeros)}${whole}.00`)).toThrow(MoneyFormatError);
      }),
    );
  });

  it.each([
    [0, '0.00'],
    [1, '0.01'],
    [5, '0.05'],
    [10, '0.10'],
    [1250, '12.50'],
    [5000, '50.00'],
    [123456, '1234.56'],
    [MAX_BUDGET_FEN, '100000.00'],
    [-1234, '-12.34'],
    [-5, '-0.05'],
  ])('formats %d fen as %j', (fen, wire) => {
    expect(formatMoney(fen)).toBe(wire);
  });

  it.each([[1.5], [0.1], [NaN], [Infinity], [Number.MAX_SAFE_INTEGER + 1]])('refuses to format %d, which is not an integer amount of fen', (fen) => {
    expect(() => formatMoney(fen)).toThrow(MoneyFormatError);
  });

  it('says which value it could not format', () => {
    expect(() => formatMoney(12.5)).toThrow(new MoneyFormatError('not an integer amount of fen: 12.5'));
  });
});

/** Budget figures that respect the money rule: refunded ≤ captured, limit ≥ spent + reserved. */
const figures: fc.Arbitrary<BudgetFigures> = fc
  .record({
    limit: fc.integer({ min: 1, max: MAX_BUDGET_FEN }),
    spentShare: fc.double({ min: 0, max: 1, noNaN: true }),
    reservedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    refundedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    refundedExtra: fc.integer({ min: 0, max: MAX_BUDGET_FEN }),
  })
  .map(({ limit, spentShare, reservedShare, refundedShare, refundedExtra }) => {
    const spent = Math.floor(limit * spentShare);
    const reserved = Math.floor((limit - spent) * reservedShare);
    // captured − refunded = spent, with any refunded amount (a refund lowers spent).
    const refunded = Math.floor(refundedExtra * refundedShare);
    return { limit, reserved, captured: spent + refunded, refunded };
  });

/** Any figures at all (to check the arithmetic does not quietly clamp or round). */
const anyFigures: fc.Arbitrary<BudgetFigures> = fc
  .record({
    limit: fc.integer({ min: 0, max: MAX_BUDGET_FEN }),
    reserved: fc.integer({ min: 0, max: MAX_BUDGET_FEN }),
    captured: fc.integer({ min: 0, max: MAX_BUDGET_FEN }),
    refundedShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ limit, reserved, captured, refundedShare }) => ({ limit, reserved, captured, refunded: Math.floor(captured * refundedShare) }));

describe('remainingOf / budgetView: spent = captured − refunded; remaining = limit − spent − reserved', () => {
  it('remaining is exactly limit − (captured − refunded) − reserved', () => {
    fc.assert(
      fc.property(anyFigures, (b) => {
        expect(remainingOf(b)).toBe(b.limit - (b.captured - b.refunded) - b.reserved);
      }),
    );
  });

  it('within the money rule, remaining is never negative and limit = spent + reserved + remaining', () => {
    fc.assert(
      fc.property(figures, (b) => {
        const remaining = remainingOf(b);
        expect(remaining).toBeGreaterThanOrEqual(0);
        expect(b.captured - b.refunded + b.reserved + remaining).toBe(b.limit);
      }),
    );
  });

  it('a refund frees budget and a reservation takes it, fen for fen', () => {
    fc.assert(
      fc.property(figures, fc.integer({ min: 0, max: 10_000 }), (b, x) => {
        expect(remainingOf({ ...b, refunded: b.refunded + x })).toBe(remainingOf(b) + x);
        expect(remainingOf({ ...b, captured: b.captured + x })).toBe(remainingOf(b) - x);
        expect(remainingOf({ ...b, reserved: b.reserved + x })).toBe(remainingOf(b) - x);
        // Capturing a reservation moves money between buckets: remaining does not change.
        expect(remainingOf({ ...b, reserved: b.reserved + x, captured: b.captured })).toBe(
          remainingOf({ ...b, reserved: b.reserved, captured: b.captured + x }),
        );
      }),
    );
  });

  it('the wire view carries every figure as a two-place decimal string in CNY', () => {
    fc.assert(
      fc.property(anyFigures, (b) => {
        const view = budgetView(b);
        expect(Object.keys(view).sort()).toEqual(['currency', 'limit', 'refunded', 'remaining', 'reserved', 'spent']);
        expect(view.currency).toBe(CURRENCY);
        expect(view.currency).toBe('CNY');
        for (const k of ['limit', 'reserved', 'spent', 'refunded', 'remaining'] as const) expect(view[k]).toMatch(/^-?\d+\.\d{2}$/);
        expect(view.limit).toBe(formatMoney(b.limit));
        expect(view.reserved).toBe(formatMoney(b.reserved));
        expect(view.refunded).toBe(formatMoney(b.refunded));
        expect(view.spent).toBe(formatMoney(b.captured - b.refunded));
        expect(view.remaining).toBe(formatMoney(remainingOf(b)));
      }),
    );
  });

  it('the wire view reads back to the same figures, and they add up to the limit', () => {
    fc.assert(
      fc.property(figures, (b) => {
        const view = budgetView(b);
        const [limit, reserved, spent, refunded, remaining] = [view.limit, view.reserved, view.spent, view.refunded, view.remaining].map(parseMoney);
        expect(limit).toBe(b.limit);
        expect(reserved).toBe(b.reserved);
        expect(refunded).toBe(b.refunded);
        expect(spent).toBe(b.captured - b.refunded);
        expect(spent! + reserved! + remaining!).toBe(limit);
      }),
    );
  });

  it('a worked example: 50.00 limit, 12.00 + 8.50 captured, 8.50 refunded, 5.00 reserved', () => {
    const b = { limit: 5000, captured: 2050, refunded: 850, reserved: 500 };
    expect(remainingOf(b)).toBe(3300);
    expect(budgetView(b)).toEqual({ limit: '50.00', reserved: '5.00', spent: '12.00', refunded: '8.50', remaining: '33.00', currency: 'CNY' });
  });
});
