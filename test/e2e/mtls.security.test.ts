import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { TransientError } from '../../shared/errors.ts';
import { createProviders, type Providers, type ProviderTlsFiles } from '../../shared/providers/index.ts';
import { parseMocksEnv } from '../../mocks/config.ts';
import { makeTestPki, type TestPki } from '../support/certs.ts';
import { ISSUER_KEY, openHarness, postTask, waitForEnd, type Harness } from '../support/harness.ts';

/**
 * Mutual TLS to the providers: the stand-ins serve HTTPS and, as a provider requiring it would, refuse a
 * client that shows no certificate, or one not signed by the CA they trust. The workers present theirs
 * (PROVIDER_CA_FILE, PROVIDER_CERT_FILE, PROVIDER_KEY_FILE) and a task runs end to end.
 */
describe('mutual TLS to the providers', () => {
  let pki: TestPki;
  let h: Harness;

  beforeAll(async () => {
    pki = makeTestPki();
    h = await openHarness({
      workers: 'all',
      mockTls: { ca: pki.read(pki.caCert), cert: pki.read(pki.server.cert), key: pki.read(pki.server.key) },
      env: { PROVIDER_CA_FILE: pki.caCert, PROVIDER_CERT_FILE: pki.client.cert, PROVIDER_KEY_FILE: pki.client.key },
    });
  });
  const made: Providers[] = [];
  afterAll(async () => {
    for (const p of made) await p.close();
    await h?.close();
    pki?.remove();
  });

  const providersWith = (tls: ProviderTlsFiles) => {
    made.push(createProviders({ marketplaceUrl: h.mocks.urls.marketplace!, tokenIssuerUrl: h.mocks.urls.tokenIssuer!, voiceIdUrl: h.mocks.urls.voiceid!, issuerApiKey: ISSUER_KEY, timeoutMs: 3_000, tls }));
    return made.at(-1)!;
  };

  it('runs a task end to end over mutual TLS: search, token, purchases, refunds and the close all reach the providers', async () => {
    expect(h.mocks.urls.marketplace).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(h.mocks.urls.tokenIssuer).toMatch(/^https:/);
    const id = await postTask(h, { theme: 'battery', budget: '60.00', voiceId: 'demo-voice', maxCompanies: 3 });
    const task = await waitForEnd(h, id, 60_000);
    expect(task.status).toBe('completed');
    const bought = (await h.repos.companies.list(id)).filter((c) => c.status === 'bought');
    expect(bought.length).toBeGreaterThan(0);
    expect((await reconcile(h.repos, h.deps.providers.issuer, id)).differences).toEqual([]);
  });

  it('a client without a certificate is refused by every provider', async () => {
    const anonymous = providersWith({ caFile: pki.caCert });
    await expect(anonymous.marketplace.search('battery')).rejects.toMatchObject({ code: 'unreachable' });
    await expect(anonymous.issuer.getToken('tok_x')).rejects.toBeInstanceOf(TransientError);
    await expect(anonymous.voiceId.verify({ voiceId: 'demo-voice', subject: 'acme', reference: 'r', amount: '1.00' })).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('a certificate signed by another CA is refused; ours is served', async () => {
    const stranger = providersWith({ caFile: pki.caCert, certFile: pki.stranger.cert, keyFile: pki.stranger.key });
    await expect(stranger.marketplace.search('battery')).rejects.toMatchObject({ code: 'unreachable' });
    const ours = providersWith({ caFile: pki.caCert, certFile: pki.client.cert, keyFile: pki.client.key });
    expect((await ours.marketplace.search('battery')).length).toBeGreaterThan(0);
  });

  it('without our CA the client does not trust the provider: a server certificate is checked, never waved through', async () => {
    const trusting = providersWith({ certFile: pki.client.cert, keyFile: pki.client.key });
    await expect(trusting.marketplace.search('battery')).rejects.toMatchObject({ code: 'unreachable' });
  });
});

describe('mutual TLS configuration', () => {
  it('a client certificate needs its key, and the other way round', () => {
    expect(() => loadConfig({ PROVIDER_CERT_FILE: '/run/secrets/client.crt' })).toThrow(ConfigError);
    expect(() => loadConfig({ PROVIDER_KEY_FILE: '/run/secrets/client.key' })).toThrow(/PROVIDER_CERT_FILE, PROVIDER_KEY_FILE: give both/);
  });

  it('a file that cannot be read stops the start, naming the variable and the path', () => {
    expect(() => createProviders({ marketplaceUrl: 'https://m', tokenIssuerUrl: 'https://i', voiceIdUrl: 'https://v', issuerApiKey: 'k', timeoutMs: 1_000, tls: { caFile: '/nonexistent/ca.crt' } })).toThrow(
      'PROVIDER_CA_FILE: cannot read /nonexistent/ca.crt (ENOENT)',
    );
  });

  it('the stand-ins take all three MOCK_TLS_* files or none, and serve an https URL themselves when they have them', () => {
    expect(() => parseMocksEnv({ MOCK_TLS_CA_FILE: '/ca.crt' })).toThrow(/give all three or none/);
    const files = { MOCK_TLS_CA_FILE: '/ca.crt', MOCK_TLS_CERT_FILE: '/server.crt', MOCK_TLS_KEY_FILE: '/server.key' };
    const config = parseMocksEnv({ ...files, MARKETPLACE_URL: 'https://127.0.0.1:8443' });
    expect(config.tls).toEqual({ caFile: '/ca.crt', certFile: '/server.crt', keyFile: '/server.key' });
    expect(config.serve).toContainEqual({ name: 'marketplace', port: 8443, configuredUrl: 'https://127.0.0.1:8443' });
    // Without them an https URL is a real provider, not served here.
    expect(parseMocksEnv({ MARKETPLACE_URL: 'https://127.0.0.1:8443' }).skipped.map((s) => s.name)).toContain('marketplace');
  });
});
