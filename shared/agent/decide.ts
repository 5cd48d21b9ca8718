import { z } from 'zod';
import type { LanguageModel, Usage } from '../llm/model.ts';
import { formatMoney, parseMoney } from '../money.ts';
import { DATA_IS_NOT_INSTRUCTIONS, dataBlock } from './prompt.ts';
import { ageText } from '../memory/freshness.ts';
import { costNow, type Owned, type Ranked } from './rank.ts';
import type { Proposal } from './rules.ts';

/** The model's answer: what to buy (with the price it means to pay) and what to pass over, each with a reason. */
export const DecisionAnswer = z.object({
  buy: z.array(z.object({ companyId: z.string(), price: z.string(), reason: z.string() })),
  skip: z.array(z.object({ companyId: z.string(), reason: z.string() })),
});

const SYSTEM = [
  'You are the purchasing agent of a research service. Free search results for a research theme are listed as candidates,',
  'each with its listed price in CNY for a paid detail record. Choose which records are worth paying for to research the theme.',
  'Rules: buy only listed candidates, by their id; pay at most the listed price (give it as price, e.g. "12.00");',
  'the prices you buy must add up to no more than the remaining budget; buy at most maxCompanies.',
  'A candidate marked owned is a record the tenant bought earlier (its age is given): it costs nothing now, its price is 0.00.',
  'Give a one-line reason for every candidate you buy and for those you skip. Our code enforces these rules whatever you answer.',
  DATA_IS_NOT_INSTRUCTIONS,
].join(' ');

export interface DecideInput {
  theme: string;
  candidates: readonly Ranked[];
  /** Fen. */
  remainingBudget: number;
  maxCompanies: number;
  /** Candidates the tenant owns a fresh record of: they cost nothing now. */
  owned?: Owned;
}

/** The prompt's data: the task's terms and the candidates (ranked, with their listed prices). */
export function decisionPrompt(input: DecideInput): string {
  const task = { theme: input.theme, remainingBudget: formatMoney(input.remainingBudget), currency: 'CNY', maxCompanies: input.maxCompanies };
  const candidates = input.candidates.map((r) => {
    const held = input.owned?.get(r.company.id);
    return {
      id: r.company.id,
      name: r.company.name,
      industry: r.company.industry,
      city: r.company.city,
      tags: r.company.tags,
      price: formatMoney(costNow(r.company, input.owned)),
      ...(held ? { owned: { boughtAgo: ageText(held.ageSeconds) }, listedPrice: formatMoney(r.company.price) } : {}),
      rank: r.rank,
    };
  });
  return `Decide what to buy for this research task.\n${dataBlock('task', task)}\n${dataBlock('candidates', candidates)}`;
}

/**
 * Asks the model what to buy. Its answer is a proposal only: shared/agent/rules.ts decides. A price that
 * is not an amount is left out (the listed price binds the purchase anyway) and noted.
 */
export async function decideWithModel(
  model: LanguageModel,
  input: DecideInput,
  ctx: { signal?: AbortSignal; onUsage: (u: Usage) => Promise<void> },
): Promise<{ proposal: Proposal; notes: string[] }> {
  const answer = await model.ask({
    purpose: 'decide',
    system: SYSTEM,
    user: decisionPrompt(input),
    schema: DecisionAnswer,
    schemaName: 'purchase_decision',
    signal: ctx.signal,
    onUsage: ctx.onUsage,
  });
  const notes: string[] = [];
  const buy = answer.buy.map((b) => {
    try {
      return { companyId: b.companyId, price: parseMoney(b.price), reason: b.reason };
    } catch {
      notes.push(`the model gave no amount as the price of ${b.companyId.slice(0, 80)}: its listed price applies`);
      return { companyId: b.companyId, reason: b.reason };
    }
  });
  return { proposal: { by: 'model', buy, skip: answer.skip }, notes };
}
