import type { MemorySettings, StageDeps } from '../../queues/deps.ts';
import type { Producer } from '../../queues/producer.ts';
import { DEV_WEBHOOK_SECRET, providerTls, type Config } from '../../shared/config.ts';
import type { Repositories } from '../../shared/db/index.ts';
import { createModel } from '../../shared/llm/index.ts';
import type { Logger } from '../../shared/log.ts';
import { SearchCache } from '../../shared/memory/search-cache.ts';
import { createProviders } from '../../shared/providers/index.ts';
import { publishEventWakeups } from '../../shared/events/wakeups.ts';
import { policyDefaults } from '../../shared/tenants/policy.ts';
import { WebhookAllowList } from '../../shared/webhooks/allow-list.ts';
import { WebhookSender } from '../../shared/webhooks/send.ts';
import { taskView, viewParts } from '../gateway/view.ts';

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
  // Every event the stages write wakes the gateways following its task (Redis pub/sub).
  publishEventWakeups(repos, producer.connection, config.QUEUE_PREFIX);
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
      // Every detail job and one job of each other stage can each hold a connection to one provider at
      // once: a process running one stage never waits for a connection (see README, Configuration).
      connections: config.DETAIL_CONCURRENCY + config.WORKER_CONCURRENCY,
    }),
    model: createModel({ apiKey: config.OPENAI_API_KEY, baseURL: where.openaiBaseUrl, model: config.OPENAI_MODEL, timeoutMs: config.PROVIDER_TIMEOUT_MS * 3 }),
    prices: config.LLM_PRICES,
    marketplaceUrl: where.marketplaceUrl.replace(/\/+$/, ''),
    tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
    policyDefaults: policyDefaults(config),
    memory: memorySettings(config),
    searchCache: new SearchCache(producer.connection, config.QUEUE_PREFIX, config.SEARCH_CACHE_TTL, log),
    webhooks: webhookSettings(config, repos),
  };
}

/** How the webhook stage signs and sends: the secret, the allow-list, the window, and the view it POSTs. */
export function webhookSettings(config: Pick<Config, 'WEBHOOK_SECRET' | 'WEBHOOK_ALLOWED_HOSTS' | 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_RETRY_WINDOW'>, repos: Repositories) {
  return {
    secret: config.WEBHOOK_SECRET ?? DEV_WEBHOOK_SECRET,
    sender: new WebhookSender(new WebhookAllowList(config.WEBHOOK_ALLOWED_HOSTS), config.WEBHOOK_TIMEOUT_MS),
    retryWindowMs: config.WEBHOOK_RETRY_WINDOW * 1_000,
    // The final task view, exactly as GET /v1/tasks/:id shows it to the tenant.
    render: async (taskId: string) => {
      const task = await repos.tasks.get(taskId);
      if (!task) throw new Error(`task ${taskId} is gone`);
      return taskView(task, ...(await viewParts(repos, taskId)));
    },
  };
}

/** Memory as the stages use it: the default freshness window, and a wait bounded by the provider time-out. */
export function memorySettings(config: Pick<Config, 'MEMORY_MAX_AGE' | 'MEMORY_RETENTION' | 'PROVIDER_TIMEOUT_MS'>): MemorySettings {
  return { maxAgeSeconds: config.MEMORY_MAX_AGE, waitMs: config.PROVIDER_TIMEOUT_MS, pollMs: 100, retrieveLimit: 5, retentionSeconds: config.MEMORY_RETENTION };
}
