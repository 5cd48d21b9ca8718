import { describe, expect, it } from 'vitest';
import { callCost, formatMicroUsd, parsePriceList, parseRate } from './prices.ts';

describe('LLM_PRICES: model prices without floating point', () => {
  it('reads decimal strings and JSON numbers as micro-dollars per million tokens', () => {
    const prices = parsePriceList('{"gpt-4o-mini":{"input":"0.15","output":0.6},"big":{"input":"2.500000","output":"10"}}');
    expect(prices.get('gpt-4o-mini')).toEqual({ input: 150_000, output: 600_000 });
    expect(prices.get('big')).toEqual({ input: 2_500_000, output: 10_000_000 });
    expect(parseRate('0.000001')).toBe(1);
    expect(parseRate(0)).toBe(0);
  });

  it('refuses what is not a price, naming the entry', () => {
    expect(() => parsePriceList('nope')).toThrow(/JSON object/);
    expect(() => parsePriceList('[]')).toThrow(/JSON object/);
    expect(() => parsePriceList('{"m":{"input":"-1","output":"1"}}')).toThrow(/^m\.input: /);
    expect(() => parsePriceList('{"m":{"input":"1","output":"0.0000001"}}')).toThrow(/^m\.output: .*six places/);
    expect(() => parsePriceList('{"m":{"input":"1"}}')).toThrow(/^m\.output: /);
    expect(() => parsePriceList('{"m":{"input":"1","output":"1","cached":"1"}}')).toThrow(/unknown field cached/);
    expect(() => parsePriceList('{"m":{"input":1e-7,"output":1}}')).toThrow(/^m\.input: /);
    expect(() => parsePriceList('{"m":{"input":"1000000","output":"1"}}')).toThrow(/^m\.input: /);
    expect(() => parsePriceList('{" ":{"input":"1","output":"1"}}')).toThrow(/empty/);
  });

  it('prices a call exactly in micro-dollars, rounded up, and says when a model has no price', () => {
    const prices = parsePriceList('{"m":{"input":"0.15","output":"0.60"}}');
    // 1,000 in at 0.15/M = 150 µ$; 500 out at 0.60/M = 300 µ$.
    expect(callCost(prices, 'm', 1000, 500)).toBe(450);
    // 1 token in: 0.15 µ$, rounded up to 1.
    expect(callCost(prices, 'm', 1, 0)).toBe(1);
    expect(callCost(prices, 'm', 0, 0)).toBe(0);
    // Ten million tokens each way at 100000 USD/M: 1e17 picodollars, no overflow.
    expect(callCost(parsePriceList('{"x":{"input":"100000","output":"100000"}}'), 'x', 10_000_000, 10_000_000)).toBe(2_000_000_000_000);
    expect(callCost(prices, 'other', 10, 10)).toBeUndefined();
  });

  it('writes micro-dollars as a six-place decimal string', () => {
    expect(formatMicroUsd(0)).toBe('0.000000');
    expect(formatMicroUsd(450)).toBe('0.000450');
    expect(formatMicroUsd(12_345_678)).toBe('12.345678');
    expect(() => formatMicroUsd(1.5)).toThrow();
    expect(() => formatMicroUsd(-1)).toThrow();
  });
});
