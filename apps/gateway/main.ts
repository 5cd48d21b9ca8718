import './tracing.ts';
import { Producer } from '../../queues/producer.ts';
import { redisConnection } from '../../queues/connection.ts';
import { loadConfig, redisTls } from '../../shared/config.ts';
import { stopTracing } from '../../shared/telemetry/sdk.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { closeAll, developmentDefaults, openBooks, quitRedis, requireSharedServices } from '../runtime/infra.ts';
import { processLogger } from '../runtime/logging.ts';
import { serveApp } from '../runtime/serve.ts';
import { dieOnStartError, onShutdown } from '../runtime/signals.ts';
import { createApp } from './app.ts';
import { TaskEventStreams } from './event-streams.ts';
import { KeyRevocations } from './key-revocations.ts';

/** `npm run gateway`: the HTTP API and Bull Board, as a process of its own. */
async function main() {
  const config = loadConfig(process.env, { uses: PROGRAM_SECRETS.gateway });
  const { redis: redisAt } = requireSharedServices(config, 'gateway');
  const log = await processLogger(config, 'gateway', 'gateway');
  const { database, repos } = await openBooks(config, { onWait: (err) => log.warn({ err: err.message }, 'waiting for Postgres') });
  const tls = redisTls(config);
  const redis = redisConnection(redisAt, 'producer', tls);
  const producer = new Producer(redis, config.QUEUE_PREFIX);
  // A connection of its own: a subscribed connection can do nothing else.
  const revocations = new KeyRevocations(redisConnection(redisAt, 'worker', tls), config.QUEUE_PREFIX, log);
  // The live follow of task stories, woken by Redis pub/sub on a connection of its own.
  const eventStreams = new TaskEventStreams(repos.events, redisConnection(redisAt, 'worker', tls), config.QUEUE_PREFIX, log, { heartbeatMs: config.EVENTS_HEARTBEAT_MS });
  const server = await serveApp(createApp({ repos, database, producer, redis, log, config, revocations, eventStreams }), config.PORT, config.HOST);
  log.info({ port: server.port }, `gateway listening on http://${config.HOST}:${server.port}`);
  for (const note of developmentDefaults(config, process.env, PROGRAM_SECRETS.gateway)) log.warn(note);
  onShutdown(async () => {
    // Open event streams end first: the server closes once its connections have.
    await closeAll([() => eventStreams.close(), server.close, () => producer.close(), () => revocations.close(), () => quitRedis(redis), database.close, stopTracing]);
  }, config.SHUTDOWN_TIMEOUT_MS + 1_000);
}

main().catch(dieOnStartError('gateway'));
