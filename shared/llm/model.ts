import type { z } from 'zod';

/** Tokens one model call used, as the endpoint reported them. */
export interface Usage {
  model: string;
  inputTokens: number;
  outputTokens: number;
}

/** What the agent asks a model for: one answer in the shape of `schema` (a structured output). */
export interface Ask<T> {
  /** What the call is for (`plan`, `decide`, `narrate`), recorded with its usage. */
  purpose: string;
  /** Instructions: ours only. */
  system: string;
  /** The task's data, marked as data (shared/agent/prompt.ts): never instructions. */
  user: string;
  /** The answer's shape; its name goes to the endpoint as the JSON schema's name. */
  schema: z.ZodType<T>;
  schemaName: string;
  signal?: AbortSignal;
  /** Called once per call that answered, before its answer is checked (an answer we refuse was still paid for). */
  onUsage: (usage: Usage) => Promise<void>;
}

/** A language model the agent can ask for structured answers (the openai SDK, or a stand-in in tests). */
export interface LanguageModel {
  /** `llm:<model>`: recorded with the report. */
  readonly name: string;
  ask<T>(request: Ask<T>): Promise<T>;
}
