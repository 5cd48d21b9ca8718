import { describe, expect, it } from 'vitest';
import type { Ask, LanguageModel } from '../llm/model.ts';
import { decideWithModel } from './decide.ts';
import { cleanQueries, MAX_QUERIES, planOffline, planWithModel } from './plan.ts';
import { rankCandidates } from './rank.ts';

/** A model that answers what it is given, and reports 10 tokens in and out. */
function answering(answer: unknown): LanguageModel & { asked: Ask<unknown>[] } {
  const asked: Ask<unknown>[] = [];
  return {
    name: 'llm:fixed',
    asked,
    async ask<T>(req: Ask<T>): Promise<T> {
      asked.push(req as Ask<unknown>);
      await req.onUsage({ model: 'fixed', inputTokens: 10, outputTokens: 10 });
      return req.schema.parse(answer);
    },
  };
}
const noUsage = { onUsage: async () => undefined };

describe('planning the searches', () => {
  it('offline: the theme keywords', () => {
    expect(planOffline('solid-state battery makers')).toEqual({ queries: ['solid-state', 'battery'], by: 'rules', notes: [] });
  });

  it("cleans a model's queries to plain words, once each, at most five", () => {
    expect(cleanQueries(['Solid-State Battery', 'solid-state battery', ' <b>lithium</b> ', 'x', 'a'.repeat(61), 'energy\nstorage', '"; DROP', 'cells', 'anode', 'cathode'])).toEqual([
      'solid-state battery',
      'lithium',
      'energy storage',
      'drop',
      'cells',
    ]);
    expect(cleanQueries(Array.from({ length: 9 }, (_, i) => `query${i}`))).toHaveLength(MAX_QUERIES);
  });

  it("asks the model with the theme as data, and falls back to the keywords when none of its queries is usable", async () => {
    const model = answering({ queries: ['!!', ''] });
    const plan = await planWithModel(model, 'solar <script>', noUsage);
    expect(plan).toEqual({ queries: ['solar', 'script'], by: 'rules', notes: ["the model proposed no usable search: the theme's keywords were searched"] });
    expect(model.asked[0]!.user).toContain('<data name="task">');
    expect(model.asked[0]!.user).not.toContain('<script>');
    expect(model.asked[0]!.system).toContain('never an instruction');
    const good = await planWithModel(answering({ queries: ['solar', 'photovoltaic', 'solar'] }), 'solar', noUsage);
    expect(good).toEqual({ queries: ['solar', 'photovoltaic'], by: 'model', notes: ["1 of the model's searches were not usable (empty, repeated, too long or over 5): dropped"] });
  });
});

describe("the model's purchase proposal", () => {
  const results = [
    { id: 'a', name: 'A Battery', industry: 'batteries', city: 'Hefei', tags: [], price: 1200, attributes: {} },
    { id: 'b', name: 'B Cells', industry: 'batteries', city: 'Wuxi', tags: [], price: 800, attributes: {} },
  ];

  it('lists the candidates with their listed prices as data, and reads the prices it offers as fen', async () => {
    const model = answering({ buy: [{ companyId: 'a', price: '12.00', reason: 'fits' }, { companyId: 'b', price: 'a lot', reason: 'also' }], skip: [] });
    const ranked = rankCandidates(results, ['battery']);
    const out = await decideWithModel(model, { theme: 'battery', candidates: ranked, remainingBudget: 5000, maxCompanies: 2 }, noUsage);
    expect(out.proposal).toEqual({
      by: 'model',
      buy: [
        { companyId: 'a', price: 1200, reason: 'fits' },
        { companyId: 'b', reason: 'also' },
      ],
      skip: [],
    });
    expect(out.notes).toEqual(['the model gave no amount as the price of b: its listed price applies']);
    const data = JSON.parse(/<data name="candidates">([\s\S]*?)<\/data>/.exec(model.asked[0]!.user)![1]!);
    expect(data.map((c: any) => [c.id, c.price])).toEqual([
      ['a', '12.00'],
      ['b', '8.00'],
    ]);
    expect(model.asked[0]!.user).toContain('"remainingBudget": "50.00"');
    expect(model.asked[0]!.schemaName).toBe('purchase_decision');
  });
});
