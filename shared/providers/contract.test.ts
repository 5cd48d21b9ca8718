import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startMocks, type RunningMocks } from '../../mocks/index.ts';
import { providerContract, type Provider } from '../../mocks/testing/contract.ts';
import { startExampleServer, type ExampleServer } from '../../test/support/example-server.ts';
import { startRecordingProxy, type RecordingProxy } from '../../test/support/recording-proxy.ts';
import { OpenAiModel } from '../llm/openai.ts';
import { formatMoney } from '../money.ts';
import { createProviders, type Providers } from './index.ts';

const KEY = 'contract-issuer-key';
const PLAN = z.object({ queries: z.array(z.string()) });
const planAsk = (onUsage: (usage: unknown) => Promise<void> = async () => {}) => ({
  purpose: 'plan',
  system: 'You plan searches.',
  user: '<data name="task">{"theme":"solid-state battery makers"}</data>',
  schema: PLAN,
  schemaName: 'search_plan',
  onUsage,
});

/** Every mismatch of the recorded exchanges with the provider's contract, requests and answers both. */
function mismatches(provider: Provider, proxy: RecordingProxy): string[] {
  const contract = providerContract(provider);
  return proxy.exchanges.flatMap((e) => [...contract.requestProblems(e.request), ...contract.responseProblems(e.request.method, e.request.url, e.response)]);
}

/** The operations the recorded exchanges called, as `METHOD /template`. */
function called(provider: Provider, proxy: RecordingProxy): string[] {
  const contract = providerContract(provider);
  return [...new Set(proxy.exchanges.map((e) => contract.match(e.request.method, new URL(e.request.url, 'http://x').pathname)).map((op) => (op ? `${op.method.toUpperCase()} ${op.template}` : 'not in the contract')))].sort();
}

/**
 * Our provider clients (shared/providers, shared/llm) speak the providers' published contracts
 * (mocks/<provider>/openapi.yaml, issue 12), so a real provider that publishes the same contract can
 * be swapped in by configuration: every request the clients send and every answer they get from the
 * stand-ins conforms to the contract, and the clients read what a provider made of nothing but the
 * contract's examples answers.
 */
describe('our provider clients and the stand-ins, on the wire', () => {
  let issuerMock: RunningMocks;
  let others: RunningMocks;
  const proxies = {} as Record<Provider, RecordingProxy>;
  let providers: Providers;
  let model: OpenAiModel;

  beforeAll(async () => {
    issuerMock = await startMocks({ only: ['tokenIssuer'], issuerApiKey: KEY });
    // The marketplace charges through the issuer's proxy too: its calls are held to the issuer's contract.
    proxies['token-issuer'] = await startRecordingProxy(issuerMock.urls.tokenIssuer!);
    others = await startMocks({ only: ['marketplace', 'voiceid', 'llm'], issuerUrl: proxies['token-issuer'].url, issuerApiKey: KEY, receiptSecret: 'contract-secret', voiceEnrolled: ['acme:acme-voice'], faults: {} });
    proxies.marketplace = await startRecordingProxy(others.urls.marketplace!);
    proxies.voiceid = await startRecordingProxy(others.urls.voiceid!);
    proxies.llm = await startRecordingProxy(new URL(others.urls.llm!).origin);
    providers = createProviders({ marketplaceUrl: proxies.marketplace.url, tokenIssuerUrl: proxies['token-issuer'].url, voiceIdUrl: proxies.voiceid.url, issuerApiKey: KEY, timeoutMs: 5_000 });
    model = new OpenAiModel({ apiKey: 'contract-llm-key', baseURL: `${proxies.llm.url}/v1`, model: 'mock-model', timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await providers?.close();
    for (const p of Object.values(proxies)) await p?.close();
    await others?.close();
    await issuerMock?.close();
  });

  it("a task's calls — consent, token, search, 402, pay, record, audit, refund, close, the model — conform both ways", async () => {
    const { marketplace, issuer, voiceId } = providers;
    expect(await voiceId.verify({ voiceId: 'acme-voice', subject: 'acme', reference: 'task-c', amount: '50.00' })).toMatchObject({ verified: true });
    expect(await voiceId.verify({ voiceId: 'acme-voice', subject: 'globex', reference: 'task-c', amount: '50.00' })).toMatchObject({ verified: false });

    const token = await issuer.createToken({ amount: '50.00', merchantId: 'marketplace', reference: 'task-c', expiresInSeconds: 600 }, 'token-task-c');
    expect((await issuer.createToken({ amount: '50.00', merchantId: 'marketplace', reference: 'task-c', expiresInSeconds: 600 }, 'token-task-c')).id).toBe(token.id);

    const [company] = await marketplace.search('battery');
    const probe = await marketplace.probe(company!.id);
    if (probe.kind !== 'payment_required') throw new Error('expected the paywall');
    const receipt = await marketplace.pay({ tokenId: token.id, amount: formatMoney(probe.price), resource: probe.resource, idempotencyKey: 'pay-task-c' });
    expect((await marketplace.pay({ tokenId: token.id, amount: formatMoney(probe.price), resource: probe.resource, idempotencyKey: 'pay-task-c' })).receiptId).toBe(receipt.receiptId);
    expect(await marketplace.fetchDetail(company!.id, receipt.receipt)).toHaveProperty('name');
    await expect(marketplace.fetchDetail(company!.id, 'forged.receipt')).rejects.toMatchObject({ code: 'receipt_rejected' });
    await expect(marketplace.pay({ tokenId: token.id, amount: '0.01', resource: probe.resource, idempotencyKey: 'pay-wrong' })).rejects.toMatchObject({ code: 'wrong_amount' });

    expect((await issuer.getToken(token.id)).charges.map((c) => c.id)).toEqual([receipt.chargeId]);
    expect((await issuer.tokensFor('task-c')).map((t) => t.id)).toEqual([token.id]);
    expect((await issuer.allTokens()).length).toBeGreaterThan(0);
    await expect(issuer.getToken('tok_nope')).rejects.toMatchObject({ code: 'not_found' });
    expect((await issuer.refund(receipt.chargeId, '1.00', 'refund-task-c')).amount).toBe(100);
    await issuer.close(token.id);
    expect((await issuer.refund(receipt.chargeId, undefined, 'refund-rest-task-c')).amount).toBe(probe.price - 100);

    expect(await model.ask(planAsk())).toHaveProperty('queries');

    for (const provider of Object.keys(proxies) as Provider[]) {
      expect(proxies[provider].exchanges.length, provider).toBeGreaterThan(0);
      expect(mismatches(provider, proxies[provider]), provider).toEqual([]);
    }
    expect(called('marketplace', proxies.marketplace)).toEqual(['GET /company/basic', 'GET /company/detail', 'POST /pay']);
    // Ours and the marketplace's (the charge) together: every operation of the issuer.
    expect(called('token-issuer', proxies['token-issuer'])).toEqual(['GET /v1/tokens', 'GET /v1/tokens/{id}', 'POST /v1/charges/{id}/refunds', 'POST /v1/tokens', 'POST /v1/tokens/{id}/charges', 'POST /v1/tokens/{id}/close']);
    expect(called('voiceid', proxies.voiceid)).toEqual(['POST /v1/verify']);
    expect(called('llm', proxies.llm)).toEqual(['POST /chat/completions']);
  });

  it('a request that breaks a contract is caught on the request side', () => {
    const issuer = providerContract('token-issuer');
    const json = new Headers({ 'content-type': 'application/json', authorization: 'Bearer k' });
    expect(issuer.requestProblems({ method: 'POST', url: '/v1/tokens/tok_1/charges', headers: json, body: JSON.stringify({ amount: '12.00', merchantId: 'marketplace' }) })).toEqual([
      expect.stringMatching(/required header parameter Idempotency-Key is missing/),
    ]);
    const keyed = new Headers({ 'content-type': 'application/json', 'idempotency-key': 'k-1' });
    expect(issuer.requestProblems({ method: 'POST', url: '/v1/tokens/tok_1/charges', headers: keyed, body: JSON.stringify({ amount: '12.000', merchantId: 'marketplace' }) })).not.toEqual([]);
    const market = providerContract('marketplace');
    expect(market.requestProblems({ method: 'GET', url: '/company/basic', headers: new Headers() })).toEqual([expect.stringMatching(/required query parameter keyword is missing/)]);
  });
});

describe("our provider clients, against providers made of nothing but the contracts' examples", () => {
  const servers = {} as Record<Provider, ExampleServer>;
  let providers: Providers;

  beforeAll(async () => {
    servers.marketplace = await startExampleServer(providerContract('marketplace'), (op, req) =>
      op.template === '/company/detail' && !req.headers.get('x-payment-receipt') ? 402 : undefined,
    );
    servers['token-issuer'] = await startExampleServer(providerContract('token-issuer'));
    servers.voiceid = await startExampleServer(providerContract('voiceid'));
    servers.llm = await startExampleServer(providerContract('llm'));
    providers = createProviders({ marketplaceUrl: servers.marketplace.url, tokenIssuerUrl: servers['token-issuer'].url, voiceIdUrl: servers.voiceid.url, issuerApiKey: KEY, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await providers?.close();
    for (const s of Object.values(servers)) await s?.close();
  });

  it('the marketplace: a company with its price, the paywall, a receipt, the record', async () => {
    const [company] = await providers.marketplace.search('battery');
    expect(company).toMatchObject({ id: 'co_3f9a12bc', name: 'Qingtao Energy', industry: 'Batteries', price: 1200 });
    expect(await providers.marketplace.probe('co_3f9a12bc')).toEqual({ kind: 'payment_required', price: 1200, resource: '/company/detail?id=co_3f9a12bc' });
    const receipt = await providers.marketplace.pay({ tokenId: 'tok_5b2c9e', amount: '12.00', resource: '/company/detail?id=co_3f9a12bc', idempotencyKey: 'k' });
    expect(receipt).toMatchObject({ receiptId: 'rcpt_1f2e3d4c5b6a79880a1b2c3d', chargeId: 'ch_7d1e', amount: 1200, resource: '/company/detail?id=co_3f9a12bc' });
    expect(receipt.expiresAt?.toISOString()).toBe('2026-11-30T08:00:00.000Z');
    expect(await providers.marketplace.fetchDetail('co_3f9a12bc', receipt.receipt)).toMatchObject({ name: 'Qingtao Energy', legalRepresentative: 'Chen Wei' });
  });

  it('the token issuer: a token, its charges, the audit listing, a refund, close', async () => {
    expect(await providers.issuer.createToken({ amount: '50.00', merchantId: 'marketplace', reference: 'r' }, 'k')).toMatchObject({ id: 'tok_5b2c9e0d7a', limit: 5000, balance: 5000, status: 'active' });
    const token = await providers.issuer.getToken('tok_5b2c9e0d7a');
    expect(token).toMatchObject({ spent: 1200, balance: 3800 });
    expect(token.charges[0]).toMatchObject({ id: 'ch_7d1e', amount: 1200, idempotencyKey: 'task-42-co_3f9a12bc' });
    expect((await providers.issuer.tokensFor('0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33'))[0]).toMatchObject({ status: 'closed' });
    expect(await providers.issuer.refund('ch_7d1e', '12.00', 'k')).toEqual({ id: 'rf_19ab', chargeId: 'ch_7d1e', amount: 1200 });
    await providers.issuer.close('tok_5b2c9e0d7a');
  });

  it("voice ID: a verdict that echoes what was asked is consent", async () => {
    expect(await providers.voiceId.verify({ voiceId: 'demo-voice', subject: 'acme', reference: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33', amount: '50.00' })).toEqual({ verified: true, score: 0.97 });
  });

  it('the LLM: a structured answer with its token usage', async () => {
    const usage: unknown[] = [];
    const model = new OpenAiModel({ apiKey: 'k', baseURL: `${servers.llm.url}/v1`, model: 'mock-analyst-1', timeoutMs: 5_000 });
    expect(await model.ask(planAsk(async (u) => void usage.push(u)))).toEqual({ queries: ['solid-state battery'] });
    expect(usage).toEqual([{ model: 'mock-analyst-1', inputTokens: 42, outputTokens: 9 }]);
  });
});
