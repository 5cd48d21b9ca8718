import { describe, expect, it } from 'vitest';
import { formatAmount, parseAmount } from './money.ts';

describe('mock money', () => {
  it.each([
    ['12', 1200],
    ['12.5', 1250],
    ['12.50', 1250],
    ['0.01', 1],
    [12.5, 1250],
    [50, 5000],
  ])('parses %j', (input, fen) => expect(parseAmount(input)).toBe(fen));

  it.each([['0'], ['0.00'], ['-1'], ['12.345'], ['1e3'], [' 12'], ['abc'], [0.30000000000000004], [0.1 + 0.2], [-5], [NaN], [null], [{}], ['012']])(
    'rejects %j',
    (input) => expect(parseAmount(input)).toBeNull(),
  );

  it('formats fen with two places', () => {
    expect(formatAmount(1200)).toBe('12.00');
    expect(formatAmount(5)).toBe('0.05');
    expect(formatAmount(123456)).toBe('1234.56');
  });
});
