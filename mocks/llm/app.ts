import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { createFaultInjector, faultMiddleware, type FaultConfig, type FaultInjector } from '../faults.ts';
import { describeIssues, readJsonBody } from '../lib/json-body.ts';
import { messageText, writeAnalysis, type ChatMessage } from './analysis.ts';
import { structuredAnswer, type LlmMode } from './structured.ts';

export type { LlmMode } from './structured.ts';

/** Options of {@link createLlmApp}. */
export interface LlmOptions {
  /** `normal` (default), or `obedient`: follows instructions found in the data of its prompts (LLM_MOCK_MODE). */
  mode?: LlmMode;
  /** Injected faults: `latency_ms`, `rate_429`, `error_5xx` (before answering) and `llm_bad_output` (a structured answer that is not JSON). */
  faults?: FaultConfig;
}

/** The model id listed by `GET /v1/models`; completions echo whatever model the request names. */
export const MOCK_MODEL = 'mock-analyst-1';

const ChatRequest = z.object({
  model: z.string().min(1),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: z.union([z.string(), z.array(z.object({ type: z.string().optional(), text: z.string().optional() }).loose()), z.null()]).optional(),
      }).loose(),
    )
    .min(1),
  stream: z.boolean().nullable().optional(),
  response_format: z
    .union([
      z.object({ type: z.literal('text') }).loose(),
      z.object({ type: z.literal('json_object') }).loose(),
      z.object({ type: z.literal('json_schema'), json_schema: z.object({ name: z.string().min(1).max(64), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullable().optional() }).loose() }).loose(),
    ])
    .optional(),
}).loose();

function openAiError(c: Context, status: number, message: string, code: string, param: string | null = null): Response {
  return c.json({ error: { message, type: 'invalid_request_error', param, code } }, status as ContentfulStatusCode);
}

function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function chatCompletions(mode: LlmMode, faults: FaultInjector) {
  return (c: Context) => answer(c, mode, faults);
}

async function answer(c: Context, mode: LlmMode, faults: FaultInjector): Promise<Response> {
  const auth = /^Bearer\s+(\S.*)$/i.exec((c.req.header('authorization') ?? '').trim());
  if (!auth) return openAiError(c, 401, 'You did not provide an API key (Authorization: Bearer <key>).', 'invalid_api_key');
  const body = await readJsonBody(c);
  if (!body.ok) return openAiError(c, 400, body.message, 'invalid_json');
  const parsed = ChatRequest.safeParse(body.value);
  if (!parsed.success) return openAiError(c, 400, describeIssues(parsed.error.issues), 'invalid_request');
  if (parsed.data.stream === true) return openAiError(c, 400, 'stream: true is not supported by this mock', 'unsupported_parameter', 'stream');

  const messages = parsed.data.messages as ChatMessage[];
  const format = parsed.data.response_format;
  let content: string;
  if (format?.type === 'json_schema') {
    content = structuredAnswer(messages, format.json_schema.name, format.json_schema.schema, mode);
    // An answer cut off mid-JSON, as a model that ran out of tokens would give.
    if (faults.roll('llm_bad_output')) content = content.slice(0, Math.max(1, Math.floor(content.length / 2)));
  } else if (format?.type === 'json_object') {
    content = JSON.stringify({ analysis: writeAnalysis(messages) });
  } else {
    content = writeAnalysis(messages);
  }
  const prompt = messages.map(messageText).join('\n');
  const id = createHash('sha256').update(JSON.stringify(messages)).digest('hex').slice(0, 24);
  const promptTokens = tokens(prompt);
  const completionTokens = tokens(content);
  return c.json({
    id: `chatcmpl-${id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: parsed.data.model,
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  });
}

/**
 * Creates the OpenAI-compatible LLM mock: non-streaming `POST /v1/chat/completions` (and `/chat/completions`)
 * answering a deterministic markdown analysis of the messages — or, with `response_format` `json_schema`,
 * a deterministic JSON answer (structured.ts) — with token `usage`, plus `GET /v1/models`. Requires a Bearer key.
 */
export function createLlmApp(opts: LlmOptions = {}): Hono {
  const app = new Hono();
  const faults = createFaultInjector(opts.faults);
  const handler = chatCompletions(opts.mode ?? 'normal', faults);
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'llm' }));
  app.use('*', faultMiddleware(faults, (status, code, message) => ({ error: { message, type: status === 429 ? 'rate_limit_error' : 'server_error', param: null, code } })));
  app.post('/v1/chat/completions', handler);
  app.post('/chat/completions', handler);
  const models = (c: Context) => c.json({ object: 'list', data: [{ id: MOCK_MODEL, object: 'model', created: 0, owned_by: 'mocks' }] });
  app.get('/v1/models', models);
  app.get('/models', models);
  app.notFound((c) => openAiError(c, 404, `Unknown request URL: ${c.req.method} ${c.req.path}`, 'unknown_url'));
  app.onError((err, c) => c.json({ error: { message: err.message, type: 'server_error', param: null, code: null } }, 500));
  return app;
}
