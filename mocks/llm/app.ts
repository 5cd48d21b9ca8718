import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { describeIssues, readJsonBody } from '../lib/json-body.ts';
import { messageText, writeAnalysis, type ChatMessage } from './analysis.ts';

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
}).loose();

function openAiError(c: Context, status: number, message: string, code: string, param: string | null = null): Response {
  return c.json({ error: { message, type: 'invalid_request_error', param, code } }, status as ContentfulStatusCode);
}

function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

async function chatCompletions(c: Context): Promise<Response> {
  const auth = /^Bearer\s+(\S.*)$/i.exec((c.req.header('authorization') ?? '').trim());
  if (!auth) return openAiError(c, 401, 'You did not provide an API key (Authorization: Bearer <key>).', 'invalid_api_key');
  const body = await readJsonBody(c);
  if (!body.ok) return openAiError(c, 400, body.message, 'invalid_json');
  const parsed = ChatRequest.safeParse(body.value);
  if (!parsed.success) return openAiError(c, 400, describeIssues(parsed.error.issues), 'invalid_request');
  if (parsed.data.stream === true) return openAiError(c, 400, 'stream: true is not supported by this mock', 'unsupported_parameter', 'stream');

  const messages = parsed.data.messages as ChatMessage[];
  const content = writeAnalysis(messages);
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
 * answering a deterministic markdown analysis of the messages, plus `GET /v1/models`. Requires a Bearer key.
 */
export function createLlmApp(): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'llm' }));
  app.post('/v1/chat/completions', chatCompletions);
  app.post('/chat/completions', chatCompletions);
  const models = (c: Context) => c.json({ object: 'list', data: [{ id: MOCK_MODEL, object: 'model', created: 0, owned_by: 'mocks' }] });
  app.get('/v1/models', models);
  app.get('/models', models);
  app.notFound((c) => openAiError(c, 404, `Unknown request URL: ${c.req.method} ${c.req.path}`, 'unknown_url'));
  app.onError((err, c) => c.json({ error: { message: err.message, type: 'server_error', param: null, code: null } }, 500));
  return app;
}
