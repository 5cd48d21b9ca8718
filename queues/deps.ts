import type { Repositories } from '../shared/db/index.ts';
import type { LanguageModel, PriceList } from '../shared/llm/index.ts';
import type { Logger } from '../shared/log.ts';
import type { SearchCache } from '../shared/memory/search-cache.ts';
import type { WebhookSender } from '../shared/webhooks/send.ts';
import type { Providers } from '../shared/providers/index.ts';
import type { SpendingPolicy } from '../shared/tenants/policy.ts';
import type { Producer } from './producer.ts';

/** Everything a stage processor may use. Built once per process; tests build their own. */
export interface StageDeps {
  repos: Repositories;
  providers: Providers;
  /** The language model the agent plans, decides and writes with; undefined: offline (our rules and writer). */
  model?: LanguageModel;
  /** Model prices (LLM_PRICES), for the cost recorded per call. */
  prices: PriceList;
  producer: Producer;
  log: Logger;
  /** Where the marketplace is, for the report's sources. */
  marketplaceUrl: string;
  /** How long a payment token lives at the issuer (TOKEN_TTL_SECONDS). */
  tokenTtlSeconds: number;
  /** Every tenant's spending policy unless it overrides one (TENANT_*): the detail stage holds the daily cap. */
  policyDefaults: SpendingPolicy;
  /** The tenant's long-term memory, as the stages use it (issue 11). */
  memory: MemorySettings;
  /** Free search results per tenant and query, in Redis (SEARCH_CACHE_TTL). */
  searchCache: SearchCache;
  /** Announcing tasks' ends to their webhook URLs (issue 13). */
  webhooks: WebhookSettings;
}

/** How the webhook stage signs, sends and gives up. */
export interface WebhookSettings {
  /** The HMAC key of X-Signature (WEBHOOK_SECRET). */
  secret: string;
  /** POSTs only to allowed hosts and addresses (WEBHOOK_ALLOWED_HOSTS). */
  sender: WebhookSender;
  /** A delivery is tried this long after its task ended, then given up (WEBHOOK_RETRY_WINDOW). */
  retryWindowMs: number;
  /** The task's final view, as GET /v1/tasks/:id answers it: the body of the POST. */
  render(taskId: string): Promise<unknown>;
}

/** How the stages use the tenant's memory. */
export interface MemorySettings {
  /** A task's freshness window when it sets none (MEMORY_MAX_AGE, seconds; 0 = always buy). */
  maxAgeSeconds: number;
  /** How long a detail job waits for another task's purchase of the same company (PROVIDER_TIMEOUT_MS). */
  waitMs: number;
  /** How often it looks while waiting. */
  pollMs: number;
  /** How many records the report retrieves from memory beside the task's own. */
  retrieveLimit: number;
  /** Records older than this are deleted by the sweeper (MEMORY_RETENTION, seconds). */
  retentionSeconds: number;
}

/** Where a job stands in its retries, and its cancellation signal. */
export interface JobContext {
  attempt: number;
  /** No retry follows a failure of this attempt: compensate instead of throwing. */
  isFinalAttempt: boolean;
  signal?: AbortSignal;
}

export type Processor<P, R = unknown> = (data: P, deps: StageDeps, ctx: JobContext) => Promise<R>;
