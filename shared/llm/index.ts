import type { LanguageModel } from './model.ts';
import { OpenAiModel } from './openai.ts';

export type { Ask, LanguageModel, Usage } from './model.ts';
export { OpenAiModel } from './openai.ts';
export { callCost, formatMicroUsd, parsePriceList, type PriceList } from './prices.ts';

/** The language model when an API key is configured; undefined means the agent works offline (our rules). */
export function createModel(o: { apiKey?: string; baseURL?: string; model: string; timeoutMs: number }): LanguageModel | undefined {
  return o.apiKey ? new OpenAiModel({ apiKey: o.apiKey, baseURL: o.baseURL, model: o.model, timeoutMs: o.timeoutMs }) : undefined;
}
