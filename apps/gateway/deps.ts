import type { RedisClient } from '../../queues/connection.ts';
import type { Producer } from '../../queues/producer.ts';
import type { Config } from '../../shared/config.ts';
import type { Db, Repositories } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';
import type { TaskEventStreams } from './event-streams.ts';
import type { KeyRevocations } from './key-revocations.ts';

/** What the gateway needs: the books, the queues, and its configuration. */
export interface GatewayDeps {
  repos: Repositories;
  database: Db;
  producer: Producer;
  redis: RedisClient;
  log: Logger;
  /** Revocations announced by every gateway (Redis pub/sub); without it a revoked key's cache entry expires on its own (KEY_CACHE_MS). */
  revocations?: KeyRevocations;
  /** The live follow of task stories (Redis-woken); without it the app makes one that polls the table every second. */
  eventStreams?: TaskEventStreams;
  config: Pick<
    Config,
    | 'API_KEYS'
    | 'ADMIN_USER'
    | 'ADMIN_PASSWORD'
    | 'ADMIN_OPERATOR_USER'
    | 'ADMIN_OPERATOR_PASSWORD'
    | 'DATA_ENCRYPTION_KEYS'
    | 'QUEUE_PREFIX'
    | 'TRUSTED_PROXIES'
    | 'AUTH_FAILURE_LIMIT'
    | 'TENANT_TASKS_PER_MINUTE'
    | 'TENANT_OPEN_TASKS'
    | 'TENANT_MAX_BUDGET'
    | 'TENANT_DAILY_SPEND'
    | 'JWT_SECRET'
    | 'JWT_JWKS_URL'
    | 'JWT_ISSUER'
    | 'JWT_AUDIENCE'
  > &
    Partial<Pick<Config, 'WEBHOOK_ALLOWED_HOSTS' | 'EVENTS_HEARTBEAT_MS'>>;
}
