import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../queues/connection.ts';
import type { Logger } from '../../shared/log.ts';
import { withTimeout } from '../../shared/timeout.ts';

/**
 * A sliding window of the last minute's submissions, one sorted-set member per accepted submission,
 * scored by Redis's own clock (so replicas with skewed clocks count alike). Under the limit: the
 * submission is added and 0 returned. At the limit: nothing is added, and the milliseconds until
 * enough of the window has passed for one more are returned. One script, so the check and the add
 * are one step for every replica.
 */
const SUBMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)`;

/** The segment of the windows' keys after the system's prefix (`<prefix>:tenant-submissions:<tenant>`). */
export const TENANT_SUBMISSION_KEYS = 'tenant-submissions';

/** How long one rate check may take before the submission goes on without it. */
const REDIS_BUDGET_MS = 1_000;

/**
 * Task submissions per tenant per minute (the tenant's `tasksPerMinute`), counted in Redis so every
 * gateway replica counts together. When Redis does not answer, the limit steps aside (logged) — the
 * task is safe in Postgres and the open-task limit and spending caps (held in Postgres) still apply.
 */
export class TenantRateLimit {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly windowMs = 60_000,
  ) {}

  /** Counts one submission of `tenant` if it is within `perWindow`; else the seconds to wait (≥ 1). */
  async take(tenant: string, perWindow: number): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
    if (!['ready', 'connecting', 'connect'].includes(this.redis.status)) return this.stepAside('Redis is down');
    let waitMs: number;
    try {
      const key = `${this.prefix}:${TENANT_SUBMISSION_KEYS}:${tenant}`;
      waitMs = Number(await withTimeout(REDIS_BUDGET_MS, this.redis.eval(SUBMIT_SCRIPT, 1, key, perWindow, this.windowMs, randomBytes(6).toString('hex')), 'Redis'));
    } catch (err) {
      return this.stepAside((err as Error).message);
    }
    return waitMs === 0 ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  private stepAside(why: string): { ok: true } {
    this.log.warn({ err: why }, 'tenant rate limit skipped');
    return { ok: true };
  }
}
