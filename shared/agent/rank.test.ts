import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BasicCompany } from '../providers/index.ts';
import { chooseCandidates, keywordsOf, MAX_CANDIDATES, relevance, stem } from './rank.ts';

function company(id: string, price: number, over: Partial<BasicCompany> = {}): BasicCompany {
  const c = { id, name: `Company ${id}`, industry: 'logistics', city: 'Shanghai', tags: [] as string[], price, ...over };
  return { ...c, attributes: { name: c.name, industry: c.industry, city: c.city, tags: c.tags } };
}

describe('keywordsOf: the subject words of a theme', () => {
  it('"solid-state battery makers" searches for "solid-state" and "battery", not "makers"', () => {
    const k = keywordsOf('solid-state battery makers');
    expect(k).toContain('solid-state');
    expect(k).toContain('battery');
    expect(k).not.toContain('makers');
    expect(k).not.toContain('maker');
  });

  it('is case-insensitive and reduces plurals to the singular', () => {
    expect(keywordsOf('Batteries')).toEqual(['battery']);
    expect(keywordsOf('SEMICONDUCTORS')).toEqual(['semiconductor']);
  });

  it('does not search the same word twice, singular or plural', () => {
    expect(keywordsOf('battery batteries Battery')).toEqual(['battery']);
  });

  it('drops words that only describe the kind of answer ("companies", "leading", "top")', () => {
    const k = keywordsOf('top leading Chinese solar companies in the market');
    expect(k).toEqual(['solar']);
  });

  it('still searches something when the theme has only such words', () => {
    expect(keywordsOf('companies').length).toBeGreaterThan(0);
  });

  it('keeps at most five keywords', () => {
    expect(keywordsOf('alpha bravo charlie delta echo foxtrot golf hotel')).toHaveLength(5);
  });

  it('splits on punctuation and ignores one-letter words', () => {
    const k = keywordsOf('robotics, biotech & e-commerce / x');
    expect(k).toEqual(expect.arrayContaining(['biotech', 'e-commerce']));
    expect(k).not.toContain('x');
    expect(k.some((w) => /[,&/ ]/.test(w))).toBe(false);
  });
});

describe('stem: singular and plural meet', () => {
  it.each([
    ['batteries', 'battery'],
    ['companies', 'company'],
    ['semiconductors', 'semiconductor'],
    ['chips', 'chip'],
    ['boxes', 'box'],
    ['batches', 'batch'],
    ['dishes', 'dish'],
    ['glasses', 'glass'],
    ['sensors', 'sensor'],
  ])('stem(%j) === stem(%j)', (plural, singular) => {
    expect(stem(plural)).toBe(stem(singular));
    expect(stem(singular)).toBe(singular);
  });

  it('leaves words ending in "ss" alone', () => {
    expect(stem('glass')).toBe('glass');
    expect(stem('process')).toBe('process');
  });
});

describe('relevance: how well a company fits the keywords', () => {
  const k = keywordsOf('battery');

  it('is zero for a company that mentions no keyword', () => {
    expect(relevance(company('x', 500, { name: 'Acme Freight', industry: 'logistics', tags: ['trucks'] }), k)).toBe(0);
  });

  it('finds the keyword singular or plural, in any case, in name, industry and tags', () => {
    expect(relevance(company('a', 500, { name: 'BATTERIES Ltd' }), k)).toBeGreaterThan(0);
    expect(relevance(company('b', 500, { industry: 'Batteries' }), k)).toBeGreaterThan(0);
    expect(relevance(company('c', 500, { tags: ['battery'] }), k)).toBeGreaterThan(0);
    expect(relevance(company('d', 500, { industry: 'battery' }), keywordsOf('batteries'))).toBeGreaterThan(0);
  });

  it('matches whole words only ("battery" is not found in "batteryless" nor "solid" in "solid-state")', () => {
    expect(relevance(company('a', 500, { name: 'Batteryless Sensors' }), k)).toBe(0);
    expect(relevance(company('b', 500, { tags: ['solid-state'] }), ['solid'])).toBe(0);
    expect(relevance(company('c', 500, { tags: ['Solid-State'] }), keywordsOf('solid-state battery makers'))).toBeGreaterThan(0);
  });

  it('weighs a hit in the name above the industry, and the industry above a tag', () => {
    const inName = relevance(company('a', 500, { name: 'Battery Co' }), k);
    const inIndustry = relevance(company('b', 500, { industry: 'batteries' }), k);
    const inTag = relevance(company('c', 500, { tags: ['battery'] }), k);
    expect(inName).toBeGreaterThan(inIndustry);
    expect(inIndustry).toBeGreaterThan(inTag);
    expect(inTag).toBeGreaterThan(0);
  });

  it('a company matching more keywords scores higher', () => {
    const keywords = keywordsOf('solid-state battery');
    const one = relevance(company('a', 500, { industry: 'batteries' }), keywords);
    const both = relevance(company('b', 500, { industry: 'batteries', tags: ['solid-state'] }), keywords);
    expect(both).toBeGreaterThan(one);
  });
});

const NAMES = ['Battery', 'Batteries', 'Solar', 'Robotics', 'Freight', 'Chips', 'Cells', 'Power'];
const INDUSTRIES = ['batteries', 'solar', 'robotics', 'logistics', 'semiconductors'];
const TAGS = ['battery', 'solid-state', 'lithium', 'ev', 'storage', 'solar'];

/**
 * Marketplace results: random names, industries, tags and prices (3.00–20.00 CNY, in fen). A company
 * found by two keywords comes back twice, as the same record.
 */
const results = fc
  .tuple(
    fc.uniqueArray(
      fc.record({
        id: fc.integer({ min: 1, max: 60 }).map((n) => `c${n}`),
        name: fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((w) => w.join(' ')),
        industry: fc.constantFrom(...INDUSTRIES),
        tags: fc.uniqueArray(fc.constantFrom(...TAGS), { maxLength: 3 }),
        price: fc.integer({ min: 300, max: 2000 }),
      }),
      { selector: (r) => r.id, maxLength: 45 },
    ),
    fc.array(fc.nat(), { maxLength: 10 }),
  )
  .map(([pool, repeats]) => (pool.length ? [...pool, ...repeats.map((i) => pool[i % pool.length]!)] : pool));
const theme = fc.constantFrom('battery', 'solid-state battery makers', 'solar companies', 'robotics', 'lithium storage batteries');

describe('chooseCandidates: what to buy within the budget', () => {
  it('never chooses more than the budget or more than maxCompanies, and ranks most relevant, then cheaper, first', () => {
    fc.assert(
      fc.property(results, theme, fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 20 }), (raw, t, budget, maxCompanies) => {
        const input = raw.map((r) => company(r.id, r.price, r));
        const keywords = keywordsOf(t);
        const out = chooseCandidates(input, keywords, budget, maxCompanies);
        const chosen = out.filter((c) => c.chosen);

        // The budget and the count hold.
        expect(chosen.reduce((s, c) => s + c.price, 0)).toBeLessThanOrEqual(budget);
        expect(chosen.length).toBeLessThanOrEqual(maxCompanies);

        // Each company appears once, ranks are 1..n, and at most MAX_CANDIDATES are kept.
        const distinct = new Set(input.map((c) => c.id));
        expect(new Set(out.map((c) => c.companyId)).size).toBe(out.length);
        expect(out.length).toBe(Math.min(distinct.size, MAX_CANDIDATES));
        expect(out.map((c) => c.rank)).toEqual(out.map((_, i) => i + 1));

        // The relevance recorded is the company's relevance; the ranking is by it, then by price.
        for (const c of out) {
          const source = input.find((x) => x.id === c.companyId)!;
          expect(c.relevance).toBe(relevance(source, keywords));
          expect(c.price).toBe(source.price);
        }
        for (let i = 1; i < out.length; i++) {
          const [a, b] = [out[i - 1]!, out[i]!];
          expect(a.relevance).toBeGreaterThanOrEqual(b.relevance);
          if (a.relevance === b.relevance) expect(a.price).toBeLessThanOrEqual(b.price);
        }
        // Nothing left out of the kept list is more relevant than what was kept.
        const minKept = Math.min(...out.map((c) => c.relevance));
        for (const id of distinct) {
          if (!out.some((c) => c.companyId === id)) expect(relevance(input.find((x) => x.id === id)!, keywords)).toBeLessThanOrEqual(minKept);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('goes down the ranking and skips only what no longer fits: a passed-over company is too expensive for what was left, or the count was full', () => {
    fc.assert(
      fc.property(results, theme, fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 20 }), (raw, t, budget, maxCompanies) => {
        const out = chooseCandidates(
          raw.map((r) => company(r.id, r.price, r)),
          keywordsOf(t),
          budget,
          maxCompanies,
        );
        let committed = 0;
        let count = 0;
        for (const c of out) {
          const fits = count < maxCompanies && committed + c.price <= budget;
          expect(c.chosen).toBe(fits);
          if (c.chosen) {
            committed += c.price;
            count += 1;
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('skips a company too expensive for the remaining budget but still chooses a cheaper one after it', () => {
    const keywords = keywordsOf('battery');
    const out = chooseCandidates(
      [
        // Ranked by where the keyword is found: the name, then the industry, then a tag.
        company('best', 1200, { name: 'Battery One', industry: 'batteries', tags: ['battery'] }),
        company('pricey', 900, { name: 'Cell Two', industry: 'batteries' }),
        company('cheap', 300, { name: 'Three Co', tags: ['battery'] }),
        company('cheaper-but-irrelevant', 300, { name: 'Freight Co', industry: 'logistics' }),
      ],
      keywords,
      1500,
      5,
    );
    expect(out.map((c) => [c.companyId, c.chosen])).toEqual([
      ['best', true],
      ['pricey', false],
      ['cheap', true],
      ['cheaper-but-irrelevant', false],
    ]);
  });

  it('puts the more relevant company first even when it is dearer, and breaks ties by the cheaper price', () => {
    const keywords = keywordsOf('battery');
    const out = chooseCandidates(
      [
        company('tag-only', 300, { tags: ['battery'] }),
        company('name-dear', 2000, { name: 'Battery Works' }),
        company('name-cheap', 500, { name: 'Battery Hub' }),
      ],
      keywords,
      2500,
      5,
    );
    expect(out.map((c) => c.companyId)).toEqual(['name-cheap', 'name-dear', 'tag-only']);
    // 5.00 + 20.00 = 25.00 exactly fills the budget; the tag-only one no longer fits.
    expect(out.map((c) => c.chosen)).toEqual([true, true, false]);
  });

  it('stops at maxCompanies even when the budget would allow more', () => {
    const out = chooseCandidates(
      ['a', 'b', 'c', 'd'].map((id) => company(id, 300, { name: `Battery ${id}` })),
      ['battery'],
      100_000,
      2,
    );
    expect(out.filter((c) => c.chosen)).toHaveLength(2);
  });

  it('chooses nothing with a budget below every price', () => {
    const out = chooseCandidates([company('a', 300, { name: 'Battery' })], ['battery'], 299, 5);
    expect(out.map((c) => c.chosen)).toEqual([false]);
  });

  it('a company the tenant owns costs nothing now: chosen with an empty budget, beside what the budget buys', () => {
    const owned = new Map([['b', { ageSeconds: 7200 }]]);
    const input = [company('a', 500, { name: 'Battery A' }), company('b', 900, { name: 'Battery B' }), company('c', 400, { name: 'Battery C' })];
    const out = chooseCandidates(input, ['battery'], 500, 5, undefined, owned);
    expect(out.filter((c) => c.chosen).map((c) => c.companyId).sort()).toEqual(['b', 'c']);
    const b = out.find((c) => c.companyId === 'b')!;
    // The listing stays the price a purchase is bound by, should the record not be owned by then.
    expect(b.price).toBe(900);
    expect(b.decision.reason).toContain('owned (bought 2 h ago), costs nothing now');
    // Without it, 900 does not fit.
    expect(chooseCandidates(input, ['battery'], 500, 5).find((c) => c.companyId === 'b')!.chosen).toBe(false);
  });

  it('an owned company still counts against maxCompanies', () => {
    const owned = new Map([['a', { ageSeconds: 60 }], ['b', { ageSeconds: 60 }]]);
    const out = chooseCandidates([company('a', 500, { name: 'Battery A' }), company('b', 500, { name: 'Battery B' })], ['battery'], 0, 1, undefined, owned);
    expect(out.filter((c) => c.chosen)).toHaveLength(1);
  });

  it('counts a company the marketplace returned twice (two keywords) only once', () => {
    const c = company('dup', 800, { name: 'Solid-State Battery' });
    const out = chooseCandidates([c, c], keywordsOf('solid-state battery'), 1000, 5);
    expect(out).toHaveLength(1);
    expect(out[0]!.chosen).toBe(true);
  });
});

describe('keyword weights', () => {
  it('weighs a rarer keyword more, so it leads the ranking', async () => {
    const { keywordWeights, chooseCandidates } = await import('./rank.ts');
    const weights = keywordWeights(new Map([['battery', 58], ['solid-state', 7], ['none', 0]]));
    expect(weights.get('battery')).toBe(1);
    expect(weights.get('solid-state')).toBe(4); // 58/7 ≈ 8.3 → 1 + 3
    expect(weights.get('none')).toBe(6); // no match counts as one: 1 + floor(log2 58)
    const co = (id: string, name: string, tags: string[]) => ({ id, name, industry: 'Batteries', city: '', tags, price: 500, attributes: {} });
    const plain = co('a', 'Alpha Battery Co.', ['lithium']);
    const solid = co('b', 'Beta Cell Co.', ['solid-state']);
    const ranked = chooseCandidates([plain, solid], ['solid-state', 'battery'], 10_000, 5, weights);
    expect(ranked.map((c) => c.companyId)).toEqual(['b', 'a']);
    // Without weights the name hit on the common keyword would win.
    expect(chooseCandidates([plain, solid], ['solid-state', 'battery'], 10_000, 5).map((c) => c.companyId)).toEqual(['a', 'b']);
  });
});

describe('the ranking states its own reasons', () => {
  it('each decision says the rank, the keywords matched and where, and the price against what was left', () => {
    const out = chooseCandidates(
      [
        company('a', 1200, { name: 'Solid-State Battery One', industry: 'batteries' }),
        company('b', 900, { name: 'Cell Two', industry: 'batteries', tags: ['solid-state'] }),
        company('c', 300, { name: 'Three Co', tags: ['battery'] }),
        company('d', 300, { name: 'Freight Co', industry: 'logistics' }),
      ],
      keywordsOf('solid-state battery makers'),
      1500,
      2,
    );
    expect(out.map((c) => [c.companyId, c.decision])).toEqual([
      ['a', { action: 'buy', by: 'rules', reason: 'rank 1 of 4; matches solid-state (name), battery (name); 12.00 CNY fits the remaining 15.00 CNY' }],
      ['b', { action: 'skip', by: 'rules', reason: 'rank 2 of 4; matches solid-state (tag), battery (industry); 9.00 CNY would exceed the remaining 3.00 CNY' }],
      ['c', { action: 'buy', by: 'rules', reason: 'rank 3 of 4; matches battery (tag); 3.00 CNY fits the remaining 3.00 CNY' }],
      ['d', { action: 'skip', by: 'rules', reason: 'rank 4 of 4; matches no keyword; 2 already chosen (maxCompanies)' }],
    ]);
    expect(out.map((c) => c.chosen)).toEqual([true, false, true, false]);
  });
});
