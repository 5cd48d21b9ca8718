import type { Redis } from 'ioredis';
import type { Producer } from '../../queues/producer.ts';
import type { Config } from '../../shared/config.ts';
import type { Db, Repositories } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';

/** What the gateway needs: the books, the queues, and its configuration. */
export interface GatewayDeps {
  repos: Repositories;
  database: Db;
  producer: Producer;
  redis: Redis;
  log: Logger;
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
  >;
}
