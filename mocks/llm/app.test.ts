import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANIES } from '../data/companies.ts';
import { startMocks, type RunningMocks } from '../index.ts';
import { body } from '../testing/helpers.ts';
import { createLlmApp } from './app.ts';

let mocks: RunningMocks;
let baseURL: string;
beforeAll(async () => {
  mocks = await startMocks({ only: ['llm'] });
  baseURL = mocks.urls.llm!;
});
afterAll(() => mocks.close());

const [a, b] = [COMPANIES[0]!, COMPANIES[77]!];
const userPrompt = `Theme: solid-state battery makers\n\n## ${a.name}\nRevenue 2023: 120000000 CNY\n\n## ${b.name}\nPatents: 42\n\nAlso consider Foobar Widget Co., Ltd. for context.`;

describe('LLM mock through the openai SDK', () => {
  it('answers a full chat.completion with a deterministic markdown analysis naming the companies', async () => {
    expect(baseURL.endsWith('/v1')).toBe(true);
    const client = new OpenAI({ baseURL, apiKey: 'test-key', maxRetries: 0 });
    const ask = () =>
      client.chat.completions.create({
        model: 'gpt-test',
        messages: [
          { role: 'system', content: 'You are an analyst.' },
          { role: 'user', content: userPrompt },
        ],
      });
    const completion = await ask();
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-test');
    expect(typeof completion.created).toBe('number');
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.role).toBe('assistant');
    const content = choice.message.content!;
    expect(content).toContain('## Analysis');
    expect(content).toContain('solid-state battery makers');
    expect(content).toContain(a.name);
    expect(content).toContain(b.name);
    expect(content).toContain('Foobar Widget Co., Ltd.');
    expect(content).toMatch(/^- \*\*/m);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);

    const again = await ask();
    expect(again.choices[0]!.message.content).toBe(content);
    expect(again.id).toBe(completion.id);
  });

  it('answers differently for a different brief', async () => {
    const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
    const other = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `Theme: robots\n${COMPANIES[150]!.name}` }] });
    const content = other.choices[0]!.message.content!;
    expect(content).toContain(COMPANIES[150]!.name);
    expect(content).not.toContain(a.name);
  });

  it('rejects a wrong setup in the OpenAI error shape: no key → 401, stream → 400', async () => {
    const noKey = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(noKey.status).toBe(401);
    expect((await body(noKey)).error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: 'invalid_api_key' });

    const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
    await expect(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('LLM mock routes', () => {
  const app = createLlmApp();
  const post = (path: string, payload: unknown, auth = 'Bearer x') =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(payload) });

  it('serves both /v1/chat/completions and /chat/completions', async () => {
    const payload = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: `About ${a.name}` }] }] };
    const one = await body(await post('/v1/chat/completions', payload));
    const two = await body(await post('/chat/completions', payload));
    expect(one.choices[0].message.content).toBe(two.choices[0].message.content);
    expect(one.choices[0].message.content).toContain(a.name);
  });

  it('answers 400 on a bad body and 401 on an empty key', async () => {
    const bad = await post('/v1/chat/completions', { model: 'm', messages: [] });
    expect(bad.status).toBe(400);
    expect((await body(bad)).error.type).toBe('invalid_request_error');
    expect((await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] })).status).toBe(400);
    expect((await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, 'Bearer ')).status).toBe(401);
  });
});
