import { describe, expect, it } from 'vitest';
import { createFaultInjector, faultsFromEnv, parseFaults, resolveFaults } from './faults.ts';

describe('MOCK_FAULTS parsing', () => {
  it('parses the documented syntax', () => {
    const f = parseFaults('latency_ms=20,pay_5xx_after_charge=0.1,detail_5xx=0.1,rate_429=0.05,pay_timeout=0.05,seed=42');
    expect(f).toMatchObject({ latency_ms: 20, pay_5xx_after_charge: 0.1, detail_5xx: 0.1, rate_429: 0.05, pay_timeout: 0.05, seed: 42 });
    expect(f.error_5xx).toBe(0);
    expect(f.timeout_hang_ms).toBe(30000);
  });

  it('ignores blanks and spaces', () => {
    expect(parseFaults(' rate_429 = 0.5 , ,seed=3 ')).toMatchObject({ rate_429: 0.5, seed: 3 });
    expect(parseFaults('')).toEqual(resolveFaults({}));
  });

  it.each([
    ['rate_429=1.5', /rate_429/],
    ['rate_429=-1', /rate_429/],
    ['latency_ms=2.5', /latency_ms/],
    ['bogus=1', /bogus/],
    ['seed', /seed/],
    ['detail_5xx=abc', /detail_5xx/],
    ['seed=1,seed=2', /seed/],
  ])('rejects %s naming the entry', (text, pattern) => {
    expect(() => parseFaults(text)).toThrow(pattern);
  });

  it('faultsFromEnv names MOCK_FAULTS and treats unset as none', () => {
    expect(faultsFromEnv({})).toBeUndefined();
    expect(() => faultsFromEnv({ MOCK_FAULTS: 'x=1' })).toThrow(/^MOCK_FAULTS: .*x/);
  });

  it('validates option objects too', () => {
    expect(() => resolveFaults({ pay_timeout: 2 })).toThrow(/pay_timeout/);
    expect(() => resolveFaults({ timeout_hang_ms: -5 })).toThrow(/timeout_hang_ms/);
  });
});

describe('fault injector', () => {
  const sequence = (seed: number, n = 200): boolean[] => {
    const inj = createFaultInjector({ rate_429: 0.3, seed });
    return Array.from({ length: n }, () => inj.roll('rate_429'));
  };

  it('is deterministic for a seed and differs across seeds', () => {
    expect(sequence(42)).toEqual(sequence(42));
    expect(sequence(42)).not.toEqual(sequence(43));
  });

  it('fires at roughly the configured rate', () => {
    const hits = sequence(7, 2000).filter(Boolean).length;
    expect(hits).toBeGreaterThan(2000 * 0.25);
    expect(hits).toBeLessThan(2000 * 0.35);
  });

  it('never fires at 0 and always fires at 1', () => {
    const inj = createFaultInjector({ error_5xx: 1 });
    for (let i = 0; i < 50; i++) {
      expect(inj.roll('error_5xx')).toBe(true);
      expect(inj.roll('detail_5xx')).toBe(false);
    }
  });

  it('keeps one sequence per kind, so one kind does not shift another', () => {
    const a = createFaultInjector({ rate_429: 0.5, error_5xx: 0.5, seed: 9 });
    const b = createFaultInjector({ rate_429: 0.5, error_5xx: 0.5, seed: 9 });
    const fromA = Array.from({ length: 50 }, () => (a.roll('error_5xx'), a.roll('rate_429')));
    const fromB = Array.from({ length: 50 }, () => b.roll('rate_429'));
    expect(fromA).toEqual(fromB);
  });

  it('detail_gone hits the same keys whatever the order of requests, at about its rate', () => {
    const keys = Array.from({ length: 400 }, (_, i) => `co-${i}`);
    const a = createFaultInjector({ detail_gone: 0.3, seed: 4 });
    const b = createFaultInjector({ detail_gone: 0.3, seed: 4 });
    const forward = keys.map((k) => a.hits('detail_gone', k));
    const backward = [...keys].reverse().map((k) => b.hits('detail_gone', k)).reverse();
    expect(backward).toEqual(forward);
    // Asked again (a retry), a key gets the same answer.
    expect(keys.map((k) => a.hits('detail_gone', k))).toEqual(forward);
    const hit = forward.filter(Boolean).length;
    expect(hit).toBeGreaterThan(400 * 0.2);
    expect(hit).toBeLessThan(400 * 0.4);
    // Another seed picks other keys; rate 0 picks none.
    const other = createFaultInjector({ detail_gone: 0.3, seed: 5 });
    expect(keys.map((k) => other.hits('detail_gone', k))).not.toEqual(forward);
    expect(keys.some((k) => createFaultInjector({}).hits('detail_gone', k))).toBe(false);
  });
});
