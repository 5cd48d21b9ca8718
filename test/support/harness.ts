import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { inject } from 'vitest';
import { createApp } from '../../apps/gateway/app.ts';
import { TaskEventStreams } from '../../apps/gateway/event-streams.ts';
import { buildStageDeps } from '../../apps/runtime/stage-deps.ts';
import { startMocks, type FaultConfig, type MockTls, type RunningMocks } from '../../mocks/index.ts';
import { deletePrefix, redisConnection } from '../../queues/connection.ts';
import type { StageDeps } from '../../queues/deps.ts';
import { QUEUE_NAMES, type QueueName } from '../../queues/names.ts';
import { Producer } from '../../queues/producer.ts';
import { startWorkers, stopWorkers } from '../../queues/worker.ts';
import { loadConfig, redisTls, type Config } from '../../shared/config.ts';
import { dropSchema, migrate, openDatabase, repositories, type Db, type Repositories } from '../../shared/db/index.ts';
import { createLogger } from '../../shared/log.ts';
import { holdToContract, type AnswersSeen } from './conformance.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';

/**
 * The tests' sessions do not wait for each commit to reach the disk: no test crashes the Postgres server
 * (outages are cut connections), and a commit is visible to every other session at once either way, so
 * nothing a test observes changes; the suite's schemas and books are written about twice as fast. The
 * programs the tests start as processes keep the server's setting.
 */
export const TEST_SESSION = { synchronous_commit: 'off' };

export const API_KEY = 'test-key';
export const AUTH = { authorization: `Bearer ${API_KEY}` };
export const ISSUER_KEY = 'test-issuer-key';

export interface HarnessOptions {
  /** Start in-process workers for these stages (none by default). */
  workers?: QueueName[] | 'all';
  /** Faults injected by the marketplace mock. */
  faults?: FaultConfig;
  /** Faults of the token issuer mock (latency, 429, 5xx). */
  issuerFaults?: FaultConfig;
  /** Reach the issuer through a TCP proxy the test can cut (`h.issuerProxy`); the marketplace still reaches it directly. */
  issuerProxy?: boolean;
  /** Where the gateway's and the workers' log lines go (default: stdout, at LOG_LEVEL). */
  logTo?: DestinationStream;
  /** Extra configuration (environment-variable names). */
  env?: Record<string, string>;
  /** Serve the LLM mock and give the workers an API key for it. */
  llm?: boolean;
  /** Stand-ins serve HTTPS and require client certificates signed by `mockTls.ca` (give the workers theirs in `env`). */
  mockTls?: MockTls;
  /** How the LLM mock treats instructions inside data (`LLM_MOCK_MODE`); normal by default. */
  llmMode?: 'normal' | 'obedient';
  /** Faults of the LLM mock (latency_ms, rate_429, error_5xx, llm_bad_output, seed). */
  llmFaults?: FaultConfig;
  /** `VOICEID_ENROLLED` entries of the voice-ID mock (`voice` or `tenant:voice`); default demo-voice and alice-voice for every tenant. */
  voiceEnrolled?: string[];
}

/** A private slice of the shared servers for one test file: its own queue prefix and schema. */
export interface Harness {
  config: Config;
  database: Db;
  repos: Repositories;
  redis: Redis;
  producer: Producer;
  deps: StageDeps;
  mocks: RunningMocks;
  /** The proxy in front of the issuer, with `issuerProxy: true`. */
  issuerProxy?: TcpProxy;
  /** The gateway, held to its OpenAPI document: an answer of a documented operation that does not conform throws (conformance.ts). */
  app: ReturnType<typeof createApp>;
  /** The documented operations the gateway answered so far, with the statuses seen. */
  answers: AnswersSeen;
  workers: Worker[];
  /** The gateway's live follow of task stories (GET /v1/tasks/:id/events). */
  eventStreams: TaskEventStreams;
  /** A request to the gateway (in-process, through app.request). */
  api(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Opens a harness: unique BullMQ prefix and Postgres schema (PGlite in memory without DATABASE_URL),
 * the provider mocks on free ports, a producer, optional in-process workers. close() removes it all.
 */
export async function openHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const id = randomBytes(4).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'arp-test-'));
  const mocks = await startMocks({
    only: opts.llm ? ['tokenIssuer', 'marketplace', 'voiceid', 'llm'] : ['tokenIssuer', 'marketplace', 'voiceid'],
    issuerApiKey: ISSUER_KEY,
    receiptSecret: 'test-receipt-secret',
    voiceEnrolled: opts.voiceEnrolled ?? ['demo-voice', 'alice-voice'],
    faults: opts.faults ?? {},
    ...(opts.issuerFaults ? { issuerFaults: opts.issuerFaults } : {}),
    ...(opts.mockTls ? { tls: opts.mockTls } : {}),
    ...(opts.llmMode ? { llmMode: opts.llmMode } : {}),
    ...(opts.llmFaults ? { llmFaults: opts.llmFaults } : {}),
  });
  const issuerProxy = opts.issuerProxy ? new TcpProxy('127.0.0.1', Number(new URL(mocks.urls.tokenIssuer!).port)) : undefined;
  const issuerUrl = issuerProxy ? `http://127.0.0.1:${await issuerProxy.start()}` : mocks.urls.tokenIssuer;
  const config = loadConfig({
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: inject('databaseUrl') ?? '',
    DATABASE_SCHEMA: `t_${id}`,
    QUEUE_PREFIX: `t-${id}`,
    DATA_DIR: dataDir,
    MARKETPLACE_URL: mocks.urls.marketplace,
    TOKEN_ISSUER_URL: issuerUrl,
    VOICEID_URL: mocks.urls.voiceid,
    TOKEN_ISSUER_API_KEY: ISSUER_KEY,
    API_KEYS: `acme:${API_KEY},other:other-key`,
    ADMIN_USER: 'admin',
    ADMIN_PASSWORD: 'test-admin',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PROVIDER_TIMEOUT_MS: '3000',
    RETRY_BASE_MS: '100',
    RETRY_MAX_MS: '2000',
    ...(opts.llm ? { OPENAI_BASE_URL: mocks.urls.llm!, OPENAI_API_KEY: 'test-llm-key', OPENAI_MODEL: 'mock-model' } : {}),
    ...opts.env,
  });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, dataDir, inMemory: true, poolSize: 5, settings: TEST_SESSION });
  await migrate(database);
  const repos = repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS));
  const tls = redisTls(config);
  const redis = redisConnection(config.REDIS_URL!, 'producer', tls);
  const workerRedis = redisConnection(config.REDIS_URL!, 'worker', tls);
  const producer = new Producer(redis, config.QUEUE_PREFIX);
  const log = createLogger(config.LOG_LEVEL, 'test', opts.logTo);
  const deps = buildStageDeps(config, repos, producer, log, {
    marketplaceUrl: config.MARKETPLACE_URL!,
    tokenIssuerUrl: config.TOKEN_ISSUER_URL!,
    voiceIdUrl: config.VOICEID_URL!,
    openaiBaseUrl: config.OPENAI_BASE_URL,
  });
  const stages = opts.workers === 'all' ? [...QUEUE_NAMES] : (opts.workers ?? []);
  const workers = stages.length
    ? startWorkers(stages, deps, workerRedis, {
        prefix: config.QUEUE_PREFIX,
        concurrency: { worker: 4, detail: 8 },
        backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
        webhookBackoff: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: config.WEBHOOK_RETRY_MAX_MS },
      })
    : [];
  const eventStreams = new TaskEventStreams(repos.events, redisConnection(config.REDIS_URL!, 'worker', tls), config.QUEUE_PREFIX, log, { heartbeatMs: config.EVENTS_HEARTBEAT_MS });
  const app = createApp({ repos, database, producer, redis, log, config, eventStreams });
  const answers = holdToContract(app);

  return {
    config,
    database,
    repos,
    redis,
    producer,
    deps,
    mocks,
    issuerProxy,
    app,
    answers,
    workers,
    api: async (path, init = {}) => {
      const headers: Record<string, string> = { ...AUTH, ...init.headers };
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      return app.request(path, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
    },
    eventStreams,
    close: async () => {
      await eventStreams.close();
      await stopWorkers(workers, 2_000);
      await deps.webhooks.sender.close();
      await deps.providers.close();
      await producer.close();
      await deletePrefix(redis, config.QUEUE_PREFIX);
      await redis.quit();
      await workerRedis.quit();
      await dropSchema(database);
      await database.close();
      await mocks.close();
      await issuerProxy?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stores a task directly (no queues) and moves it into a stage: a fixture for books-level tests. */
export async function runningTask(h: Harness, fields: { id: string; tenant: string; theme: string; budgetLimit: number; stage?: 'detail' }): Promise<string> {
  const created = await h.repos.tasks.create({
    id: fields.id, tenant: fields.tenant, idempotency_key: null, request_hash: null, theme: fields.theme,
    voice_id: 'demo-voice', currency: 'CNY', max_companies: 5, status: 'queued', stage: null, budget_limit: fields.budgetLimit,
    token_id: null, error_code: null, error_message: null, ended_at: null,
  });
  if (created.kind !== 'created') throw new Error(`fixture task ${fields.id} not created`);
  await h.repos.tasks.enterStage(fields.id, fields.stage ?? 'detail');
  return fields.id;
}

/** Posts a task through the gateway and returns its id. */
export async function postTask(h: Harness, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<string> {
  const res = await h.api('/v1/tasks', { body, headers });
  if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Waits until a task has ended and returns its API view. */
export async function waitForEnd(h: Harness, id: string, timeoutMs = 20_000): Promise<any> {
  return waitFor(
    async () => {
      const task: any = await (await h.api(`/v1/tasks/${id}`)).json();
      return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
    },
    `task ${id} to end`,
    timeoutMs,
  );
}
