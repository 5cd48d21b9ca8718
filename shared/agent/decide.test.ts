import { describe, expect, it } from 'vitest';
import { decisionPrompt } from './decide.ts';
import { rankCandidates } from './rank.ts';

const listing = (id: string, price: number) => ({ id, name: `Battery ${id}`, industry: 'batteries', city: 'Ningde', tags: [], price, attributes: {} });

describe('decisionPrompt: what the model is told a candidate costs', () => {
  it('an owned candidate costs 0.00 now, with its age and its listing beside; the others their listed price', () => {
    const ranked = rankCandidates([listing('a', 1200), listing('b', 800)], ['battery']);
    const prompt = decisionPrompt({ theme: 'battery', candidates: ranked, remainingBudget: 1000, maxCompanies: 2, owned: new Map([['a', { ageSeconds: 3 * 86_400 }]]) });
    const candidates = JSON.parse(/<data name="candidates">([\s\S]*?)<\/data>/.exec(prompt)![1]!) as Array<Record<string, unknown>>;
    expect(candidates.find((c) => c.id === 'a')).toMatchObject({ price: '0.00', listedPrice: '12.00', owned: { boughtAgo: '3 d' } });
    const b = candidates.find((c) => c.id === 'b')!;
    expect(b).toMatchObject({ price: '8.00' });
    expect(b).not.toHaveProperty('owned');
  });
});
