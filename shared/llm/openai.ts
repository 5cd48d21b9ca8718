import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { PermanentError, TransientError } from '../errors.ts';
import type { Ask, LanguageModel } from './model.ts';

/**
 * Any OpenAI-compatible chat-completions endpoint through the openai SDK, asked for structured outputs
 * (`response_format` with a JSON schema made from a zod schema). The answer is validated by the same zod
 * schema; one that does not match is refused (PermanentError `llm_bad_output`): the caller falls back to
 * our rules. Token usage is reported for every call that answered, refused or not.
 */
export class OpenAiModel implements LanguageModel {
  readonly name: string;
  private readonly client: OpenAI;
  private readonly model: string;

  constructor(opts: { apiKey: string; baseURL?: string; model: string; timeoutMs: number }) {
    // Retries belong to the queue (with backoff across processes), not to the SDK.
    this.client = new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeout: opts.timeoutMs, maxRetries: 0 });
    this.model = opts.model;
    this.name = `llm:${opts.model}`;
  }

  async ask<T>(request: Ask<T>): Promise<T> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model: this.model,
          temperature: 0.2,
          response_format: zodResponseFormat(request.schema as any, request.schemaName),
          messages: [
            { role: 'system', content: request.system },
            { role: 'user', content: request.user },
          ],
        },
        { signal: request.signal },
      );
    } catch (err) {
      if (err instanceof OpenAI.APIError && err.status !== undefined && err.status < 500 && err.status !== 429 && err.status !== 408) {
        throw new PermanentError('llm_rejected', `the language model refused the request: ${err.status} ${err.message}`);
      }
      throw new TransientError('llm_unavailable', `the language model failed: ${(err as Error).message}`);
    }
    if (completion.usage) {
      await request.onUsage({ model: completion.model || this.model, inputTokens: completion.usage.prompt_tokens, outputTokens: completion.usage.completion_tokens });
    }
    const message = completion.choices[0]?.message;
    if (message?.refusal) throw new PermanentError('llm_refused', `the language model declined: ${message.refusal.slice(0, 200)}`);
    const text = message?.content?.trim();
    if (!text) throw new TransientError('llm_empty', 'the language model returned no answer');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PermanentError('llm_bad_output', `the language model's ${request.schemaName} answer is not JSON`);
    }
    const parsed = request.schema.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues[0];
      throw new PermanentError('llm_bad_output', `the language model's ${request.schemaName} answer does not fit its schema (${where?.path.join('.') || 'answer'}: ${where?.message ?? 'invalid'})`);
    }
    return parsed.data;
  }
}
