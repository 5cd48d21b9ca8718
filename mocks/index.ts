import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { faultsFromEnv, type FaultConfig } from './faults.ts';
import { mutualTlsClient, mutualTlsServerOptions, type MockTls } from './lib/tls.ts';
import { createLlmApp } from './llm/app.ts';
import { createMarketplaceApp } from './marketplace/app.ts';
import { createTokenIssuerApp } from './token-issuer/app.ts';
import { createVoiceIdApp } from './voiceid/app.ts';

export { createLlmApp } from './llm/app.ts';
export { createMarketplaceApp, type MarketplaceOptions } from './marketplace/app.ts';
export { createTokenIssuerApp, type TokenIssuerOptions } from './token-issuer/app.ts';
export { createVoiceIdApp, type VoiceIdOptions } from './voiceid/app.ts';
export { readMockTls, type MockTls } from './lib/tls.ts';
export { createFaultInjector, parseFaults, resolveFaults, faultsFromEnv, type FaultConfig } from './faults.ts';

/** The mocks `startMocks` can serve. */
export type MockName = 'marketplace' | 'tokenIssuer' | 'voiceid' | 'llm';

/** Every mock, in start order (the issuer before the marketplace that calls it). */
export const MOCK_NAMES: readonly MockName[] = ['tokenIssuer', 'marketplace', 'voiceid', 'llm'];

/** Options of {@link startMocks}. */
export interface StartMocksOptions {
  /** Which mocks to serve; all by default. */
  only?: MockName[];
  /** Port per mock; 0 or absent = a free port. */
  ports?: Partial<Record<MockName, number>>;
  /** Interface to bind; default `127.0.0.1` (`0.0.0.0` in a container). */
  host?: string;
  /** The issuer's API key (`TOKEN_ISSUER_API_KEY`); default `dev-issuer-key`. */
  issuerApiKey?: string;
  /** The marketplace's receipt-signing key (`RECEIPT_SECRET`); default `dev-receipt-secret`. */
  receiptSecret?: string;
  /** Enrolments (`VOICEID_ENROLLED`): `voice` for every subject, `subject:voice` for one; default `['demo-voice']`. */
  voiceEnrolled?: string[];
  /** Directory of the issuer's journal (`${dataDir}/token-issuer.journal`); in memory when absent. */
  dataDir?: string;
  /** Faults of the marketplace; when absent, `MOCK_FAULTS` from the environment (if set). `{}` turns them off. */
  faults?: FaultConfig;
  /** Faults of the token issuer (only latency_ms, rate_429, error_5xx apply); none by default. */
  issuerFaults?: FaultConfig;
  /** The issuer the marketplace charges when `tokenIssuer` is not started here. */
  issuerUrl?: string;
  /** Serve HTTPS and require client certificates signed by `tls.ca` (mutual TLS); plain HTTP when absent. */
  tls?: MockTls;
}

/** Mocks being served. */
export interface RunningMocks {
  /** Base URL of each started mock; the LLM's ends with `/v1` (use it as `OPENAI_BASE_URL`). */
  urls: Partial<Record<MockName, string>>;
  /** Stops every server, cutting open connections. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(app: Hono, port: number, host: string, tls?: MockTls): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const secure = tls ? { createServer: createHttpsServer, serverOptions: mutualTlsServerOptions(tls) } : {};
    const server = serve({ fetch: app.fetch, port, hostname: host, ...secure }, (info) => {
      server.off('error', reject);
      resolve({ server: server as Server, port: info.port });
    }) as Server;
    server.once('error', reject);
  });
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Starts the provider mocks as real HTTP servers and resolves once each is listening. When the issuer is
 * started here the marketplace charges it over loopback; otherwise it needs `issuerUrl`.
 */
export async function startMocks(opts: StartMocksOptions = {}): Promise<RunningMocks> {
  const wanted = new Set<MockName>(opts.only ?? MOCK_NAMES);
  const host = opts.host ?? '127.0.0.1';
  const issuerApiKey = opts.issuerApiKey ?? 'dev-issuer-key';
  const faults = opts.faults ?? faultsFromEnv(process.env);
  if (wanted.has('marketplace') && !wanted.has('tokenIssuer') && !opts.issuerUrl) {
    throw new Error('startMocks: the marketplace needs a token issuer: start "tokenIssuer" too or pass issuerUrl');
  }

  const servers: Server[] = [];
  const urls: Partial<Record<MockName, string>> = {};
  const start = async (name: MockName, app: Hono, suffix = ''): Promise<string> => {
    const { server, port } = await listen(app, opts.ports?.[name] ?? 0, host, opts.tls);
    servers.push(server);
    const url = `${opts.tls ? 'https' : 'http'}://${urlHost(host)}:${port}`;
    urls[name] = `${url}${suffix}`;
    return url;
  };
  const close = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map(stop));
  };

  try {
    let issuerUrl = opts.issuerUrl;
    for (const name of MOCK_NAMES) {
      if (!wanted.has(name)) continue;
      if (name === 'tokenIssuer') {
        const app = createTokenIssuerApp({
          apiKey: issuerApiKey,
          ...(opts.dataDir ? { journalPath: join(opts.dataDir, 'token-issuer.journal') } : {}),
          ...(opts.issuerFaults ? { faults: opts.issuerFaults } : {}),
        });
        issuerUrl = await start(name, app);
      } else if (name === 'marketplace') {
        const app = createMarketplaceApp({
          issuerUrl: issuerUrl as string,
          issuerApiKey,
          receiptSecret: opts.receiptSecret ?? 'dev-receipt-secret',
          ...(faults ? { faults } : {}),
          ...(opts.tls ? { issuerDispatcher: mutualTlsClient(opts.tls) } : {}),
        });
        await start(name, app);
      } else if (name === 'voiceid') {
        await start(name, createVoiceIdApp({ enrolled: opts.voiceEnrolled ?? ['demo-voice'] }));
      } else {
        await start(name, createLlmApp(), '/v1');
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { urls, close };
}
