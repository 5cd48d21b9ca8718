import { OfflineWriter } from './offline.ts';
import { OpenAiWriter } from './openai.ts';
import type { AnalysisWriter } from './writer.ts';

export type { AnalysisInput, AnalysisWriter } from './writer.ts';
export { OfflineWriter } from './offline.ts';
export { OpenAiWriter } from './openai.ts';

/** The LLM writer when an API key is configured, else the offline writer. */
export function createWriter(o: { apiKey?: string; baseURL?: string; model: string; timeoutMs: number }): AnalysisWriter {
  return o.apiKey ? new OpenAiWriter({ apiKey: o.apiKey, baseURL: o.baseURL, model: o.model, timeoutMs: o.timeoutMs }) : new OfflineWriter();
}
