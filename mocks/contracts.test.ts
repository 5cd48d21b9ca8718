import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redoclyLint } from '../test/support/redocly.ts';
import { createLlmApp } from './llm/app.ts';
import { createMarketplaceApp } from './marketplace/app.ts';
import { conforming, providerContract, type Provider } from './testing/contract.ts';
import { API_KEY, body, createToken, issuerCall, pay, SECRET, startIssuer, uniqueKey } from './testing/helpers.ts';
import { createTokenIssuerApp } from './token-issuer/app.ts';
import { createVoiceIdApp } from './voiceid/app.ts';
import type { RunningMocks } from './index.ts';

const PROVIDERS: Provider[] = ['marketplace', 'token-issuer', 'voiceid', 'llm'];

/** Warnings of the linter the contracts keep, each for a reason; anything else fails. */
const ACCEPTED_WARNINGS = [
  // The providers state no licence for their API descriptions.
  { ruleId: 'info-license', pointer: '#/info' },
  // A liveness probe answers no client error.
  { ruleId: 'operation-4xx-response', pointer: '#/paths/~1healthz/get/responses' },
];

/**
 * The providers' contracts (issue 12): one OpenAPI 3.1 file per provider, beside its stand-in
 * (`mocks/<provider>/openapi.yaml`), written as the provider's own. Each lints clean and its examples
 * are valid; each stand-in answers every operation as its contract says (here, and in its own tests,
 * which hold every answer to it through `conforming`). That our clients speak the same contracts is
 * shared/providers/contract.test.ts.
 */
describe.each(PROVIDERS)('the %s contract', (provider) => {
  const file = new URL(`./${provider}/openapi.yaml`, import.meta.url).pathname;

  it('lints clean with Redocly CLI (recommended rules): no error, no warning but the accepted ones', async () => {
    const problems = await redoclyLint(file);
    expect(problems.filter((p) => !ACCEPTED_WARNINGS.some((a) => p.severity === 'warn' && a.ruleId === p.ruleId && a.pointer === p.pointer))).toEqual([]);
  }, 60_000);

  it('is OpenAPI 3.1 with examples its own schemas accept', () => {
    const contract = providerContract(provider);
    expect(contract.doc.openapi).toBe('3.1.0');
    expect(contract.exampleProblems()).toEqual([]);
  });
});

/** Every operation of a contract that `seen` holds no success of. */
function withoutSuccess(provider: Provider, seen: Set<string>): string[] {
  return providerContract(provider)
    .operations()
    .filter((op) => ![...seen].some((s) => s.startsWith(`${op} → 2`)));
}

describe('each stand-in answers every operation as its contract says', () => {
  let issuer: RunningMocks;

  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(async () => {
    await issuer?.close();
  });

  it('the token issuer: tokens, charges, refunds, close, audits and its errors', async () => {
    const seen = new Set<string>();
    const app = conforming(createTokenIssuerApp({ apiKey: API_KEY }), 'token-issuer', seen);
    const call = (method: string, path: string, payload?: unknown, headers?: Record<string, string>) => issuerCall(app, method, path, payload, headers);
    expect((await app.request('/healthz')).status).toBe(200);
    const input = { amount: '20.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-c1' };
    const token = await body(await call('POST', '/v1/tokens', input, { 'idempotency-key': 't-1' }));
    expect((await call('POST', '/v1/tokens', input, { 'idempotency-key': 't-1' })).status).toBe(200);
    expect((await call('POST', '/v1/tokens', { ...input, amount: '30.00' }, { 'idempotency-key': 't-1' })).status).toBe(422);
    expect((await call('POST', '/v1/tokens', { ...input, amount: 0.1 + 0.2 })).status).toBe(400);
    const charge = { amount: '12.00', merchantId: 'marketplace', description: '/company/detail?id=co_1' };
    const charged = await body(await call('POST', `/v1/tokens/${token.id}/charges`, charge, { 'idempotency-key': 'c-1' }));
    expect((await call('POST', `/v1/tokens/${token.id}/charges`, charge, { 'idempotency-key': 'c-1' })).status).toBe(200);
    expect((await call('POST', `/v1/tokens/${token.id}/charges`, { ...charge, amount: '9.00' }, { 'idempotency-key': 'c-2' })).status).toBe(402);
    expect((await call('POST', `/v1/tokens/${token.id}/charges`, { ...charge, merchantId: 'other' }, { 'idempotency-key': 'c-3' })).status).toBe(403);
    expect((await call('POST', `/v1/tokens/${token.id}/charges`, charge)).status).toBe(400);
    expect((await call('GET', `/v1/tokens/${token.id}`)).status).toBe(200);
    expect((await call('GET', '/v1/tokens?reference=task-c1')).status).toBe(200);
    expect((await call('GET', '/v1/tokens')).status).toBe(200);
    expect((await call('POST', `/v1/charges/${charged.id}/refunds`, { amount: '2.00' }, { 'idempotency-key': 'r-1' })).status).toBe(201);
    expect((await call('POST', `/v1/charges/${charged.id}/refunds`, { amount: '2.00' }, { 'idempotency-key': 'r-1' })).status).toBe(200);
    expect((await call('POST', `/v1/charges/${charged.id}/refunds`, { amount: '50.00' })).status).toBe(422);
    expect((await call('POST', `/v1/tokens/${token.id}/close`)).status).toBe(200);
    expect((await call('POST', `/v1/tokens/${token.id}/charges`, charge, { 'idempotency-key': 'c-4' })).status).toBe(409);
    expect((await call('POST', `/v1/charges/${charged.id}/refunds`, '')).status).toBe(201);
    expect((await call('GET', '/v1/tokens/tok_nope')).status).toBe(404);
    expect((await app.request('/v1/tokens', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const faulty = conforming(createTokenIssuerApp({ apiKey: API_KEY, faults: { rate_429: 1 } }), 'token-issuer', seen);
    expect((await issuerCall(faulty, 'GET', '/v1/tokens')).status).toBe(429);
    expect(withoutSuccess('token-issuer', seen)).toEqual([]);
  });

  it('the marketplace: search, the 402 paywall, pay, the paid record and its errors', async () => {
    const seen = new Set<string>();
    const app = conforming(createMarketplaceApp({ issuerUrl: issuer.urls.tokenIssuer!, issuerApiKey: API_KEY, receiptSecret: SECRET }), 'marketplace', seen);
    expect((await app.request('/healthz')).status).toBe(200);
    const found = await body(await app.request('/company/basic?keyword=battery'));
    expect((await app.request('/company/basic?keyword=zzzz-nothing')).status).toBe(200);
    expect((await app.request('/company/basic')).status).toBe(400);
    const id = found.data[0].id;
    const wall = await body(await app.request(`/company/detail?id=${id}`));
    expect(wall.meta.resource).toBe(`/company/detail?id=${id}`);
    expect((await app.request('/company/detail?id=co_nope')).status).toBe(404);
    const token = await createToken(issuer.urls.tokenIssuer!, '50.00');
    const key = uniqueKey();
    const paid = { tokenId: token.id, amount: wall.meta.price.amount, resource: wall.meta.resource };
    const receipt = await body(await pay(app, paid, key));
    expect((await pay(app, paid, key)).status).toBe(200);
    expect((await pay(app, { ...paid, amount: '1.00' }, uniqueKey())).status).toBe(422);
    expect((await pay(app, paid, null)).status).toBe(400);
    expect((await pay(app, { ...paid, tokenId: 'tok_nope' }, uniqueKey())).status).toBe(404);
    const record = await app.request(`/company/detail?id=${id}`, { headers: { 'x-payment-receipt': receipt.data.attributes.receipt } });
    expect(record.status).toBe(200);
    expect((await app.request(`/company/detail?id=${id}`, { headers: { 'x-payment-receipt': 'forged.receipt' } })).status).toBe(402);
    expect(withoutSuccess('marketplace', seen)).toEqual([]);
  });

  it('voice ID: verified or not, and a bad body', async () => {
    const seen = new Set<string>();
    const app = conforming(createVoiceIdApp({ enrolled: ['demo-voice', 'acme:acme-voice'] }), 'voiceid', seen);
    const verify = (payload: unknown) => app.request('/v1/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    expect((await app.request('/healthz')).status).toBe(200);
    expect(await body(await verify({ voiceId: 'acme-voice', subject: 'acme', reference: 't-1', amount: 50 }))).toMatchObject({ verified: true, amount: '50.00' });
    expect(await body(await verify({ voiceId: 'acme-voice', reference: 't-1', amount: '5.00' }))).toMatchObject({ verified: false, subject: null });
    expect((await verify({ voiceId: 'demo-voice', reference: 't-1', amount: '-1' })).status).toBe(400);
    expect(withoutSuccess('voiceid', seen)).toEqual([]);
  });

  it('the LLM: chat completions, plain and structured, the model list and its errors', async () => {
    const seen = new Set<string>();
    const app = conforming(createLlmApp(), 'llm', seen);
    const chat = (payload: unknown, key = 'k', path = '/v1/chat/completions') =>
      app.request(path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const messages = [{ role: 'user', content: '<data name="task">{"theme":"battery makers"}</data>' }];
    expect((await chat({ model: 'm', messages })).status).toBe(200);
    expect((await chat({ model: 'm', messages, response_format: { type: 'json_schema', json_schema: { name: 'search_plan', schema: { type: 'object' } } } }, 'k', '/chat/completions')).status).toBe(200);
    expect((await chat({ model: 'm', messages, stream: true })).status).toBe(400);
    expect((await app.request('/v1/chat/completions', { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await app.request('/v1/models')).status).toBe(200);
    expect(withoutSuccess('llm', seen)).toEqual([]);
  });

  it('makes a stand-in that breaks its contract fail its tests, naming the mismatch', async () => {
    const broken = conforming(
      new Hono().get('/v1/tokens/:id', (c) => c.json({ id: c.req.param('id'), limit: '20.00', spent: 3, currency: 'CNY', status: 'open' })),
      'token-issuer',
    );
    await expect(broken.request('/v1/tokens/tok_1')).rejects.toThrow(/GET \/v1\/tokens\/\{id\} → 200: .*(balance|spent|status)/);
  });
});
