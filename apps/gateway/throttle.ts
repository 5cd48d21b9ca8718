import type { RedisClient } from '../../queues/connection.ts';
import type { Logger } from '../../shared/log.ts';
import { withTimeout } from '../../shared/timeout.ts';

/**
 * Counts a failure and returns the count. The window starts at the first failure and starts again at
 * the one that reaches the limit, so an address that reached it is refused for a full window from then.
 * One script, so the count and its expiry are set together (a key never lives without one).
 */
const FAIL_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

/** The segment of the windows' keys after the system's prefix (`<prefix>:auth-failures:<bucket>`). */
export const AUTH_FAILURE_KEYS = 'auth-failures';

/** How long one throttle call may take before the request goes on without it. */
const REDIS_BUDGET_MS = 1_000;

/**
 * Failed sign-ins (a wrong API key, wrong admin credentials) per client address, in Redis so every
 * gateway replica counts together. After `limit` failures within a window, every sign-in from that
 * address is refused (429 rate_limited, Retry-After) until the window has passed — the right
 * credential too, or guessing would go on by telling 429 from 200.
 *
 * When Redis does not answer the throttle steps aside (logged): reads from Postgres keep working
 * through a Redis outage, and production keys of 16+ random characters cannot be guessed in the
 * meantime anyway.
 */
export class AuthThrottle {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly limit: number,
    private readonly log: Logger,
    private readonly windowMs = 60_000,
  ) {}

  private key(bucket: string): string {
    return `${this.prefix}:${AUTH_FAILURE_KEYS}:${bucket}`;
  }

  /** Runs a Redis step within its budget; undefined (and a warning) when Redis cannot answer. */
  private async safely<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
    // Known to be down (an outage, closed): step aside at once. Still connecting (a fresh start): wait.
    if (!['ready', 'connecting', 'connect'].includes(this.redis.status)) return undefined;
    try {
      return await withTimeout(REDIS_BUDGET_MS, step(), 'Redis');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `failed-sign-in throttle skipped (${what})`);
      return undefined;
    }
  }

  /** Seconds until this bucket may sign in again; 0 when it may now. */
  async blockedFor(bucket: string): Promise<number> {
    const state = await this.safely('check', async () => {
      const [[, count], [, ttl]] = (await this.redis.multi().get(this.key(bucket)).pttl(this.key(bucket)).exec()) as [[null, string | null], [null, number]];
      return { count: Number(count ?? 0), ttl };
    });
    if (!state || state.count < this.limit) return 0;
    return Math.max(1, Math.ceil((state.ttl > 0 ? state.ttl : this.windowMs) / 1000));
  }

  /** Counts one failed sign-in from this bucket. */
  async fail(bucket: string): Promise<void> {
    await this.safely('count', () => this.redis.eval(FAIL_SCRIPT, 1, this.key(bucket), this.limit, this.windowMs));
  }
}
