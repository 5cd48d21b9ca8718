import type { MemorySettings, StageDeps } from '../../queues/deps.ts';
import type { Producer } from '../../queues/producer.ts';
import { providerTls, type Config } from '../../shared/config.ts';
import type { Repositories } from '../../shared/db/index.ts';
import { createModel } from '../../shared/llm/index.ts';
import type { Logger } from '../../shared/log.ts';
import { SearchCache } from '../../shared/memory/search-cache.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { policyDefaults } from '../../shared/tenants/policy.ts';

export interface ProviderLocations {
  marketplaceUrl: string;
  tokenIssuerUrl: string;
  voiceIdUrl: string;
  openaiBaseUrl?: string;
}

/** Provider URLs from the configuration; a worker cannot run without them. */
export function providerLocations(config: Config): ProviderLocations {
  const missing = (['MARKETPLACE_URL', 'TOKEN_ISSUER_URL', 'VOICEID_URL'] as const).filter((k) => !config[k]);
  if (missing.length) throw new Error(`the workers call the providers, so they need ${missing.join(', ')} (npm run mocks serves stand-ins)`);
  return { marketplaceUrl: config.MARKETPLACE_URL!, tokenIssuerUrl: config.TOKEN_ISSUER_URL!, voiceIdUrl: config.VOICEID_URL!, openaiBaseUrl: config.OPENAI_BASE_URL };
}

/** Everything the stage processors use, from the configuration. */
export function buildStageDeps(config: Config, repos: Repositories, producer: Producer, log: Logger, where: ProviderLocations): StageDeps {
  return {
    repos,
    producer,
    log,
    providers: createProviders({
      marketplaceUrl: where.marketplaceUrl,
      tokenIssuerUrl: where.tokenIssuerUrl,
      voiceIdUrl: where.voiceIdUrl,
      issuerApiKey: config.TOKEN_ISSUER_API_KEY,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      tls: providerTls(config),
    }),
    model: createModel({ apiKey: config.OPENAI_API_KEY, baseURL: where.openaiBaseUrl, model: config.OPENAI_MODEL, timeoutMs: config.PROVIDER_TIMEOUT_MS * 3 }),
    prices: config.LLM_PRICES,
    marketplaceUrl: where.marketplaceUrl.replace(/\/+$/, ''),
    tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
    policyDefaults: policyDefaults(config),
    memory: memorySettings(config),
    searchCache: new SearchCache(producer.connection, config.QUEUE_PREFIX, config.SEARCH_CACHE_TTL, log),
  };
}

/** Memory as the stages use it: the default freshness window, and a wait bounded by the provider time-out. */
export function memorySettings(config: Pick<Config, 'MEMORY_MAX_AGE' | 'MEMORY_RETENTION' | 'PROVIDER_TIMEOUT_MS'>): MemorySettings {
  return { maxAgeSeconds: config.MEMORY_MAX_AGE, waitMs: config.PROVIDER_TIMEOUT_MS, pollMs: 100, retrieveLimit: 5, retentionSeconds: config.MEMORY_RETENTION };
}
