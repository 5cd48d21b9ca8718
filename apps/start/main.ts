import './tracing.ts';
import { join } from 'node:path';
import { startMocks, type MockName } from '../../mocks/index.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { Producer } from '../../queues/producer.ts';
import { redisConnection } from '../../queues/connection.ts';
import { startSweeper } from '../../queues/sweeper.ts';
import { startWorkers, stopWorkers } from '../../queues/worker.ts';
import { loadConfig, redisTarget, redisTls } from '../../shared/config.ts';
import { stopTracing } from '../../shared/telemetry/sdk.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { createApp } from '../gateway/app.ts';
import { TaskEventStreams } from '../gateway/event-streams.ts';
import { KeyRevocations } from '../gateway/key-revocations.ts';
import { closeAll, developmentDefaults, openBooks, quitRedis } from '../runtime/infra.ts';
import { processLogger } from '../runtime/logging.ts';
import { serveApp } from '../runtime/serve.ts';
import { serveWorkerHttp } from '../runtime/worker-http.ts';
import { dieOnStartError, onShutdown } from '../runtime/signals.ts';
import { buildStageDeps } from '../runtime/stage-deps.ts';
import { startPrivateRedis } from './redis.ts';

/**
 * `npm start`: everything in one process. Redis from REDIS_URL or a private redis-server; Postgres
 * from DATABASE_URL or embedded PGlite; a stand-in for each provider whose URL is unset; the gateway,
 * Bull Board and every stage's workers.
 */
async function main() {
  const config = loadConfig(process.env, { uses: PROGRAM_SECRETS.start });
  const log = await processLogger(config, 'arp', 'start');
  const givenRedis = redisTarget(config);
  const privateRedis = givenRedis ? undefined : await startPrivateRedis(join(config.DATA_DIR, 'redis'));
  const redisAt = givenRedis ?? privateRedis!.url;

  const wanted: MockName[] = [];
  if (!config.TOKEN_ISSUER_URL) wanted.push('tokenIssuer');
  if (!config.MARKETPLACE_URL) wanted.push('marketplace');
  if (!config.VOICEID_URL) wanted.push('voiceid');
  const [mocks, books] = await Promise.all([
    wanted.length
      ? startMocks({
          only: wanted,
          issuerApiKey: config.TOKEN_ISSUER_API_KEY,
          receiptSecret: config.RECEIPT_SECRET,
          voiceEnrolled: config.VOICEID_ENROLLED.split(',').map((s) => s.trim()).filter(Boolean),
          dataDir: config.DATA_DIR,
          issuerUrl: config.TOKEN_ISSUER_URL,
        })
      : undefined,
    openBooks(config),
  ]);
  const { database, repos } = books;
  const where = {
    marketplaceUrl: config.MARKETPLACE_URL ?? mocks!.urls.marketplace!,
    tokenIssuerUrl: config.TOKEN_ISSUER_URL ?? mocks!.urls.tokenIssuer!,
    voiceIdUrl: config.VOICEID_URL ?? mocks!.urls.voiceid!,
    // The LLM is never replaced by a stand-in here: a key without a base URL means OpenAI itself.
    openaiBaseUrl: config.OPENAI_BASE_URL,
  };

  const tls = redisTls(config);
  const producerRedis = redisConnection(redisAt, 'producer', tls);
  const workerRedis = redisConnection(redisAt, 'worker', tls);
  const producer = new Producer(producerRedis, config.QUEUE_PREFIX);
  const deps = buildStageDeps(config, repos, producer, log, where);
  const workers = startWorkers([...QUEUE_NAMES], deps, workerRedis, {
    prefix: config.QUEUE_PREFIX,
    concurrency: { worker: config.WORKER_CONCURRENCY, detail: config.DETAIL_CONCURRENCY },
    lockMs: config.JOB_LOCK_MS,
    backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
    webhookBackoff: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: config.WEBHOOK_RETRY_MAX_MS },
  });
  const sweeper = config.SWEEP_INTERVAL_MS ? startSweeper(deps, config.SWEEP_INTERVAL_MS, config.STALE_TASK_MS) : undefined;
  const revocations = new KeyRevocations(redisConnection(redisAt, 'worker', tls), config.QUEUE_PREFIX, log);
  const eventStreams = new TaskEventStreams(repos.events, redisConnection(redisAt, 'worker', tls), config.QUEUE_PREFIX, log, { heartbeatMs: config.EVENTS_HEARTBEAT_MS });
  const server = await serveApp(createApp({ repos, database, producer, redis: producerRedis, log, config, revocations, eventStreams }), config.PORT, config.HOST);
  // The gateway's /metrics shows the workers' metrics too here (one process); the worker port is for probes that expect one.
  let accepting = true;
  const http = await serveWorkerHttp(config.WORKER_HTTP_PORT, config.WORKER_HTTP_HOST, { redis: [producerRedis, workerRedis], database, log, accepting: () => accepting });

  log.info(
    {
      gateway: `http://${config.HOST}:${server.port}`,
      board: `http://${config.HOST}:${server.port}/admin/queues`,
      redis: privateRedis ? `private ${privateRedis.url}` : typeof redisAt === 'string' ? redisAt : `cluster ${redisAt.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
      postgres: database.kind === 'pglite' ? `embedded PGlite in ${join(config.DATA_DIR, 'pglite')}` : 'DATABASE_URL',
      providers: where,
      writer: deps.model?.name ?? 'offline',
      ...(http ? { workerHttp: `http://${config.WORKER_HTTP_HOST}:${http.port}` } : {}),
    },
    `agent-research-pay is up on http://${config.HOST}:${server.port}`,
  );
  for (const note of developmentDefaults(config, process.env, PROGRAM_SECRETS.start)) log.warn(note);

  onShutdown(async (signal) => {
    log.info({ signal }, 'stopping');
    accepting = false;
    // Stop taking work first (HTTP and queues at once), then close what they used, Redis last.
    await eventStreams.close();
    await Promise.all([server.close(), sweeper?.stop(), stopWorkers(workers, Math.min(config.SHUTDOWN_TIMEOUT_MS, 2_500))]);
    await closeAll([() => deps.providers.close(), () => producer.close(), () => revocations.close(), () => quitRedis(producerRedis), () => quitRedis(workerRedis), mocks?.close, database.close, privateRedis?.stop, http?.close, stopTracing]);
  }, 4_500);
}

main().catch(dieOnStartError('npm start'));
