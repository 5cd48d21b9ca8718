import type { Context } from 'hono';
import type { RedisClient } from '../../queues/connection.ts';
import type { Config } from '../../shared/config.ts';
import type { Logger } from '../../shared/log.ts';
import { ClientAddresses } from './client-address.ts';
import { problem } from './problem.ts';
import { AuthThrottle } from './throttle.ts';

/**
 * What every sign-in (API key, admin login) goes through: refused while its client address is
 * throttled, and counted when it fails. A request without a socket (in-process, `app.request`) has no
 * address and is not throttled.
 */
export class SignInGate {
  readonly addresses: ClientAddresses;
  private readonly throttle: AuthThrottle;

  constructor(deps: { redis: RedisClient; log: Logger; config: Pick<Config, 'QUEUE_PREFIX' | 'TRUSTED_PROXIES' | 'AUTH_FAILURE_LIMIT'> }) {
    this.addresses = new ClientAddresses(deps.config.TRUSTED_PROXIES);
    this.throttle = new AuthThrottle(deps.redis, deps.config.QUEUE_PREFIX, deps.config.AUTH_FAILURE_LIMIT, deps.log);
  }

  /** A 429 rate_limited answer (with Retry-After) when this client is throttled, else undefined. */
  async refusal(c: Context): Promise<Response | undefined> {
    const bucket = this.addresses.bucket(c);
    const wait = bucket ? await this.throttle.blockedFor(bucket) : 0;
    if (!wait) return undefined;
    c.header('Retry-After', String(wait));
    return problem(c, 'rate_limited', `too many failed sign-ins from this address; retry in ${wait} s`);
  }

  /** Counts a failed sign-in of this client. */
  async failed(c: Context): Promise<void> {
    const bucket = this.addresses.bucket(c);
    if (bucket) await this.throttle.fail(bucket);
  }
}
