import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { PermanentError, TransientError } from '../errors.ts';
import { observeProviderCall } from '../telemetry/metrics.ts';
import { ATTR, inSpan, SpanKind } from '../telemetry/tracing.ts';
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
    const completion = await this.complete(request);
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

  /**
   * The one HTTP call, measured as the `llm` provider (latency, errors by code) and, when tracing, in a
   * client span with the model, the purpose and the tokens used: never the prompt or the answer.
   */
  private complete<T>(request: Ask<T>): Promise<OpenAI.Chat.Completions.ChatCompletion> {
    const operation = 'POST /chat/completions';
    const attributes = { [ATTR.provider]: 'llm', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': this.model, 'arp.llm.purpose': request.purpose };
    return inSpan(`llm ${operation}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const completion = await this.client.chat.completions.create(
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
        observeProviderCall('llm', operation, seconds());
        if (completion.usage) span?.setAttributes({ 'gen_ai.usage.input_tokens': completion.usage.prompt_tokens, 'gen_ai.usage.output_tokens': completion.usage.completion_tokens });
        return completion;
      } catch (err) {
        observeProviderCall('llm', operation, seconds(), llmErrorCode(err));
        if (err instanceof OpenAI.APIError && err.status !== undefined && err.status < 500 && err.status !== 429 && err.status !== 408) {
          throw new PermanentError('llm_rejected', `the language model refused the request: ${err.status} ${err.message}`);
        }
        throw new TransientError('llm_unavailable', `the language model failed: ${(err as Error).message}`);
      }
    });
  }
}

/** A failed model call's code for the metrics: timeout, unreachable, or the HTTP status. */
function llmErrorCode(err: unknown): string {
  if (err instanceof OpenAI.APIUserAbortError) return 'aborted';
  if (err instanceof OpenAI.APIConnectionTimeoutError) return 'timeout';
  if (err instanceof OpenAI.APIConnectionError) return 'unreachable';
  if (err instanceof OpenAI.APIError && err.status !== undefined) return `http_${err.status}`;
  return 'unreachable';
}
