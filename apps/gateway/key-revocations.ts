import type { RedisClient } from '../../queues/connection.ts';
import type { Logger } from '../../shared/log.ts';
import { withTimeout } from '../../shared/timeout.ts';

/** The Redis channel revoked key ids are announced on, per system (QUEUE_PREFIX). */
export const revocationChannel = (prefix: string) => `${prefix}:api-key-revoked`;

/** How long announcing a revocation may take before the answer goes out without it (the cache's TTL still bounds it). */
const PUBLISH_BUDGET_MS = 1_000;

/**
 * Tells every gateway that a key was revoked, so each drops it from its cache at once (apps/gateway/
 * auth.ts). Best effort: when Redis does not answer, the key is still refused by every gateway within
 * the cache's lifetime (a second), because the revocation is in Postgres already.
 */
export async function announceRevocation(redis: RedisClient, prefix: string, keyId: string, log: Logger): Promise<void> {
  try {
    await withTimeout(PUBLISH_BUDGET_MS, redis.publish(revocationChannel(prefix), keyId), 'Redis');
  } catch (err) {
    log.warn({ keyId, err: (err as Error).message }, 'could not announce a key revocation; gateways drop it when their cache expires');
  }
}

/**
 * One gateway's subscription to revocations: `onRevoked` hears each revoked key id, `onReset` that
 * announcements may have been missed (the subscription was down), so the cache should be dropped whole.
 * Uses a connection of its own (a subscribed connection can do nothing else).
 */
export class KeyRevocations {
  private readonly revokedListeners: Array<(keyId: string) => void> = [];
  private readonly resetListeners: Array<() => void> = [];

  constructor(
    private readonly subscriber: RedisClient,
    prefix: string,
    log: Logger,
  ) {
    const channel = revocationChannel(prefix);
    subscriber.on('message', (from: string, keyId: string) => {
      if (from === channel) for (const l of this.revokedListeners) l(keyId);
    });
    // ioredis subscribes again after a reconnect; what was announced in between is lost.
    subscriber.on('ready', () => {
      for (const l of this.resetListeners) l();
    });
    this.subscribed = subscriber.subscribe(channel).then(
      () => undefined,
      (err: Error) => log.warn({ err: err.message }, 'could not subscribe to key revocations; relying on the cache lifetime'),
    );
  }

  /** Settles once the first subscription is made (or has failed, logged). */
  readonly subscribed: Promise<void>;

  onRevoked(listener: (keyId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
