import './tracing.ts';
import { parseArgs } from 'node:util';
import { Producer } from '../../queues/producer.ts';
import { redisConnection } from '../../queues/connection.ts';
import { startSweeper } from '../../queues/sweeper.ts';
import { startWorkers, stopWorkers } from '../../queues/worker.ts';
import { loadConfig, redisTls } from '../../shared/config.ts';
import { stopTracing } from '../../shared/telemetry/sdk.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { closeAll, developmentDefaults, openBooks, quitRedis, requireSharedServices } from '../runtime/infra.ts';
import { processLogger } from '../runtime/logging.ts';
import { dieOnStartError, onShutdown } from '../runtime/signals.ts';
import { buildStageDeps, providerLocations } from '../runtime/stage-deps.ts';
import { serveWorkerHttp } from '../runtime/worker-http.ts';
import { parseStages } from './stages.ts';

/** `npm run worker -- <stage…>`: workers for the named stages (all when none), plus the sweeper. */
async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'no-sweeper': { type: 'boolean' } } });
  const stages = parseStages(positionals);
  const config = loadConfig(process.env, { uses: PROGRAM_SECRETS.worker });
  const { redis: redisAt } = requireSharedServices(config, 'worker');
  const where = providerLocations(config);
  const log = await processLogger(config, `worker:${stages.join('+')}`, 'worker');
  const { database, repos } = await openBooks(config, { onWait: (err) => log.warn({ err: err.message }, 'waiting for Postgres') });
  const tls = redisTls(config);
  const producerRedis = redisConnection(redisAt, 'producer', tls);
  const workerRedis = redisConnection(redisAt, 'worker', tls);
  const producer = new Producer(producerRedis, config.QUEUE_PREFIX);
  const deps = buildStageDeps(config, repos, producer, log, where);
  const workers = startWorkers(stages, deps, workerRedis, {
    prefix: config.QUEUE_PREFIX,
    concurrency: { worker: config.WORKER_CONCURRENCY, detail: config.DETAIL_CONCURRENCY },
    lockMs: config.JOB_LOCK_MS,
    backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
    webhookBackoff: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: config.WEBHOOK_RETRY_MAX_MS },
  });
  const sweeper = values['no-sweeper'] || config.SWEEP_INTERVAL_MS === 0 ? undefined : startSweeper(deps, config.SWEEP_INTERVAL_MS, config.STALE_TASK_MS);
  let accepting = true;
  const http = await serveWorkerHttp(config.WORKER_HTTP_PORT, config.WORKER_HTTP_HOST, { redis: [producerRedis, workerRedis], database, log, accepting: () => accepting });
  log.info({ stages, prefix: config.QUEUE_PREFIX, ...(http ? { http: `http://${config.WORKER_HTTP_HOST}:${http.port}` } : {}) }, 'worker started');
  for (const note of developmentDefaults(config, process.env, PROGRAM_SECRETS.worker)) log.warn(note);
  onShutdown(async (signal) => {
    log.info({ signal }, 'worker stopping');
    accepting = false;
    await closeAll([sweeper?.stop, () => stopWorkers(workers, config.SHUTDOWN_TIMEOUT_MS), () => deps.webhooks.sender.close(), () => deps.providers.close(), () => producer.close(), () => quitRedis(producerRedis), () => quitRedis(workerRedis), database.close, http?.close, stopTracing]);
  }, config.SHUTDOWN_TIMEOUT_MS + 1_000);
}

main().catch(dieOnStartError('worker'));
