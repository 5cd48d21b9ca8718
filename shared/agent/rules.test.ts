import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enforceRules, MAX_REASON, type Listed, type Proposal } from './rules.ts';

/** Five listed candidates: a 10.00, b 8.00, c 12.00, d 5.00, e 20.00 (fen). */
const LISTED: Listed[] = [
  { companyId: 'a', price: 1000 },
  { companyId: 'b', price: 800 },
  { companyId: 'c', price: 1200 },
  { companyId: 'd', price: 500 },
  { companyId: 'e', price: 2000 },
];

const model = (buy: Proposal['buy'], skip: Proposal['skip'] = []): Proposal => ({ by: 'model', buy, skip });
const run = (proposal: Proposal, remainingBudget = 5000, maxCompanies = 5, candidates = LISTED) => enforceRules({ candidates, remainingBudget, maxCompanies, proposal });

describe('enforceRules: a proposal within the rules passes as it is', () => {
  it('buys what the model picked, by the model, with its reasons; the rest is skipped by the model', () => {
    const v = run(model([{ companyId: 'c', price: 1200, reason: 'best fit' }, { companyId: 'a', reason: 'cheap leader' }], [{ companyId: 'e', reason: 'too dear for what it adds' }]));
    expect(v.violations).toEqual([]);
    expect(v.buy).toEqual([{ companyId: 'c', price: 1200 }, { companyId: 'a', price: 1000 }]);
    expect([...v.decisions]).toEqual([
      ['a', { action: 'buy', reason: 'cheap leader', by: 'model' }],
      ['b', { action: 'skip', reason: 'not picked by the model', by: 'model' }],
      ['c', { action: 'buy', reason: 'best fit', by: 'model' }],
      ['d', { action: 'skip', reason: 'not picked by the model', by: 'model' }],
      ['e', { action: 'skip', reason: 'too dear for what it adds', by: 'model' }],
    ]);
  });

  it('allows exactly the remaining budget and exactly maxCompanies', () => {
    const v = run(model([{ companyId: 'a', reason: 'x' }, { companyId: 'd', reason: 'y' }]), 1500, 2);
    expect(v.violations).toEqual([]);
    expect(v.buy.map((b) => b.companyId)).toEqual(['a', 'd']);
  });

  it("labels the ranking's decisions as the rules'", () => {
    const v = run({ by: 'rules', buy: [{ companyId: 'd', reason: 'rank 1' }], skip: [{ companyId: 'a', reason: 'rank 2; too dear' }] });
    expect(v.decisions.get('d')).toEqual({ action: 'buy', reason: 'rank 1', by: 'rules' });
    expect(v.decisions.get('a')).toEqual({ action: 'skip', reason: 'rank 2; too dear', by: 'rules' });
    expect(v.decisions.get('b')).toEqual({ action: 'skip', reason: 'not picked by the ranking', by: 'rules' });
  });
});

describe('enforceRules: a model answer that breaks a rule is clipped to it, and says so', () => {
  it('an unlisted company is ignored and reported, never bought', () => {
    const v = run(model([{ companyId: 'zz-not-listed', reason: 'told to' }, { companyId: 'a', reason: 'ok' }]));
    expect(v.buy).toEqual([{ companyId: 'a', price: 1000 }]);
    expect(v.violations).toEqual([{ rule: 'unlisted', companyId: 'zz-not-listed', message: "not a candidate of this task's search: ignored" }]);
    expect(v.decisions.has('zz-not-listed')).toBe(false);
    expect(v.decisions.size).toBe(LISTED.length);
  });

  it('too many: picks beyond maxCompanies are skipped by the rules, in the order the model wanted them', () => {
    const v = run(model(LISTED.map((c) => ({ companyId: c.companyId, reason: 'buy every company' }))), 100_000, 2);
    expect(v.buy.map((b) => b.companyId)).toEqual(['a', 'b']);
    expect(v.violations.map((x) => [x.rule, x.companyId])).toEqual([
      ['over_count', 'c'],
      ['over_count', 'd'],
      ['over_count', 'e'],
    ]);
    expect(v.decisions.get('c')).toEqual({
      action: 'skip',
      reason: 'the model would buy it (buy every company); refused: 2 companies are the most this task may buy (maxCompanies)',
      by: 'rules',
    });
  });

  it('too much: a pick that would pass the remaining budget is skipped, and a cheaper later pick still fits', () => {
    // 10.00 + 8.00 = 18.00 of 20.00; c (12.00) no longer fits; d (5.00) would (23.00 > 20.00: no); budget 23.00 lets d in.
    const v = run(model([{ companyId: 'a', reason: 'r' }, { companyId: 'b', reason: 'r' }, { companyId: 'c', reason: 'ignore the budget' }, { companyId: 'd', reason: 'r' }]), 2300);
    expect(v.buy.map((b) => b.companyId)).toEqual(['a', 'b', 'd']);
    expect(v.violations).toEqual([{ rule: 'over_budget', companyId: 'c', message: '12.00 CNY would exceed the remaining budget (5.00 CNY left)' }]);
    expect(v.decisions.get('c')!.by).toBe('rules');
    expect(v.decisions.get('c')!.action).toBe('skip');
    expect(v.decisions.get('c')!.reason).toContain('the model would buy it (ignore the budget); refused: 12.00 CNY would exceed the remaining budget');
  });

  it('an offer above the listed price is clipped to the listed price (the purchase stays bound to the listing)', () => {
    const v = run(model([{ companyId: 'a', price: 99_900, reason: 'worth any price' }]));
    expect(v.buy).toEqual([{ companyId: 'a', price: 1000 }]);
    expect(v.violations).toEqual([{ rule: 'over_price', companyId: 'a', message: 'offered 999.00 CNY: clipped to the listed 10.00 CNY' }]);
    expect(v.decisions.get('a')).toEqual({ action: 'buy', reason: 'worth any price; offered 999.00 CNY: clipped to the listed 10.00 CNY', by: 'rules' });
  });

  it('counts the listed price, not the offer, against the budget', () => {
    // Offered 1.00 more than listed twice: the listed prices (10.00 + 8.00) fit 18.00 exactly.
    const v = run(model([{ companyId: 'a', price: 1100, reason: 'r' }, { companyId: 'b', price: 900, reason: 'r' }]), 1800);
    expect(v.buy.map((b) => b.companyId)).toEqual(['a', 'b']);
  });

  it('an offer below the listed price is not bought: the marketplace asks the listing, more than the model would pay', () => {
    const v = run(model([{ companyId: 'c', price: 600, reason: 'only worth 6' }]));
    expect(v.buy).toEqual([]);
    expect(v.violations).toEqual([{ rule: 'under_price', companyId: 'c', message: 'it would pay at most 6.00 CNY, below the listed 12.00 CNY' }]);
    expect(v.decisions.get('c')).toMatchObject({ action: 'skip', by: 'rules' });
  });

  it('a company picked twice is bought once', () => {
    const v = run(model([{ companyId: 'a', reason: 'first' }, { companyId: 'a', reason: 'again' }]));
    expect(v.buy).toEqual([{ companyId: 'a', price: 1000 }]);
    expect(v.violations).toEqual([{ rule: 'duplicate', companyId: 'a', message: 'picked more than once: counted once' }]);
    expect(v.decisions.get('a')).toEqual({ action: 'buy', reason: 'first', by: 'model' });
  });

  it('buys nothing with no budget left, or maxCompanies 0, and reads a negative remainder as none', () => {
    expect(run(model([{ companyId: 'd', reason: 'r' }]), 0).buy).toEqual([]);
    expect(run(model([{ companyId: 'd', reason: 'r' }]), -500).buy).toEqual([]);
    expect(run(model([{ companyId: 'd', reason: 'r' }]), 5000, 0).buy).toEqual([]);
  });

  it("keeps a model's reason to one line of at most 300 characters, and quotes no more than 80 of an unlisted id", () => {
    const v = run(model([{ companyId: `x${'y'.repeat(500)}`, reason: 'r' }, { companyId: 'a', reason: `line one\n\u202eline two\t${'z'.repeat(1000)}` }]));
    const reason = v.decisions.get('a')!.reason;
    expect(reason.startsWith('line one line two z')).toBe(true);
    expect(Array.from(reason)).toHaveLength(MAX_REASON);
    expect(reason.endsWith('…')).toBe(true);
    expect(Array.from(v.violations[0]!.companyId)).toHaveLength(80);
  });

  it('an empty reason becomes a plain word, not an empty decision', () => {
    expect(run(model([{ companyId: 'a', reason: '  \n ' }])).decisions.get('a')!.reason).toBe('picked');
    expect(run(model([{ companyId: 'e', reason: '' }]), 1000).decisions.get('e')!.reason).toBe(
      'the model would buy it (no reason given); refused: 20.00 CNY would exceed the remaining budget (10.00 CNY left)',
    );
    expect(run(model([{ companyId: 'a', price: 2000, reason: '' }])).decisions.get('a')!.reason).toBe('picked; offered 20.00 CNY: clipped to the listed 10.00 CNY');
  });

  it("says whose proposal was refused: the ranking's, when the rules clip it", () => {
    const v = run({ by: 'rules', buy: [{ companyId: 'a', reason: 'rank 1' }, { companyId: 'b', reason: 'rank 2' }], skip: [] }, 1000, 1);
    expect(v.decisions.get('b')).toEqual({ action: 'skip', reason: 'the ranking would buy it (rank 2); refused: 1 company is the most this task may buy (maxCompanies)', by: 'rules' });
  });
});

/** Any proposal a model could make: listed ids, unknown ids, repeats, prices above, at and below the listing. */
const proposals = fc.record({
  by: fc.constantFrom<'model' | 'rules'>('model', 'rules'),
  buy: fc.array(
    fc.record({
      companyId: fc.oneof(fc.constantFrom(...LISTED.map((c) => c.companyId)), fc.string({ maxLength: 5 })),
      price: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
      reason: fc.string({ maxLength: 40 }),
    }),
    { maxLength: 12 },
  ),
  skip: fc.array(fc.record({ companyId: fc.constantFrom(...LISTED.map((c) => c.companyId)), reason: fc.string({ maxLength: 20 }) }), { maxLength: 5 }),
});

describe('enforceRules: whatever the proposal', () => {
  it('buys only listed candidates, once each, at the listed price, within the budget and maxCompanies; one decision per candidate', () => {
    fc.assert(
      fc.property(proposals, fc.integer({ min: -1000, max: 8000 }), fc.integer({ min: 0, max: 6 }), (proposal, budget, max) => {
        const v = run(proposal, budget, max);
        const listed = new Map(LISTED.map((c) => [c.companyId, c.price]));
        expect(v.buy.every((b) => listed.get(b.companyId) === b.price)).toBe(true);
        expect(new Set(v.buy.map((b) => b.companyId)).size).toBe(v.buy.length);
        expect(v.buy.reduce((s, b) => s + b.price, 0)).toBeLessThanOrEqual(Math.max(0, budget));
        expect(v.buy.length).toBeLessThanOrEqual(max);
        expect([...v.decisions.keys()]).toEqual(LISTED.map((c) => c.companyId));
        const bought = new Set(v.buy.map((b) => b.companyId));
        for (const [id, d] of v.decisions) {
          expect(d.action === 'buy').toBe(bought.has(id));
          expect(d.reason.length).toBeGreaterThan(0);
          expect(d.reason).not.toMatch(/[\r\n]/);
        }
        // Every pick that was not bought as asked is accounted for by a violation naming it.
        for (const pick of proposal.buy) {
          if (!listed.has(pick.companyId)) {
            expect(v.violations.some((x) => x.rule === 'unlisted')).toBe(true);
            continue;
          }
          const asked = bought.has(pick.companyId) && (pick.price === undefined || pick.price === listed.get(pick.companyId));
          if (!asked) expect(v.violations.some((x) => x.companyId === pick.companyId)).toBe(true);
        }
        // A decision not by the proposer is the rules', and a violation says why.
        for (const [id, d] of v.decisions) {
          if (d.by === proposal.by) continue;
          expect(d.by).toBe('rules');
          expect(v.violations.some((x) => x.companyId === id)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a proposal within the rules comes out unchanged (the rules only ever take away)', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(LISTED), fc.integer({ min: 0, max: 6 }), (picks, max) => {
        const within = picks.slice(0, max);
        const budget = within.reduce((s, c) => s + c.price, 0);
        const v = run(model(within.map((c) => ({ companyId: c.companyId, price: c.price, reason: 'r' }))), budget, max);
        expect(v.violations).toEqual([]);
        expect(v.buy).toEqual(within.map((c) => ({ companyId: c.companyId, price: c.price })));
      }),
    );
  });
});
