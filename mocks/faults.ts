import type { MiddlewareHandler } from 'hono';
import { prngFromString, type Prng } from './lib/prng.ts';
import { sleep } from './lib/sleep.ts';

/**
 * Fault injection for the mocks, so the product's retry, refund and reconciliation paths can be exercised.
 *
 * Configured by an options object or by `MOCK_FAULTS`, a comma-separated list of `name=value`:
 * `MOCK_FAULTS="latency_ms=20,pay_5xx_after_charge=0.1,detail_5xx=0.1,rate_429=0.05,pay_timeout=0.05,seed=42"`.
 * Fractions are probabilities in [0, 1]; decisions come from a seeded generator per kind, so the same seed and
 * the same request order give the same faults.
 */

/** Kinds that are decided per request with a probability in [0, 1]. */
export const FAULT_RATES = [
  'rate_429',
  'error_5xx',
  'pay_5xx_after_charge',
  'pay_timeout',
  'detail_5xx',
  'detail_bad_data',
  'detail_partial',
  'detail_gone',
  'llm_bad_output',
] as const;

/**
 * Kinds decided once per key (a company id) rather than per request: the same companies fail on every
 * request, whatever the order of requests, so a test can rely on a failure that outlasts every retry.
 */
export const STICKY_FAULTS = ['detail_gone'] as const;

/** A fault kind decided per key. */
export type StickyFault = (typeof STICKY_FAULTS)[number];

/** A probabilistic fault kind. */
export type FaultRate = (typeof FAULT_RATES)[number];

/** Integer settings (milliseconds and the seed). */
export const FAULT_SETTINGS = ['latency_ms', 'timeout_hang_ms', 'seed'] as const;

/** An integer fault setting. */
export type FaultSetting = (typeof FAULT_SETTINGS)[number];

/** Fault configuration; keys are the `MOCK_FAULTS` names. Everything is optional and off by default. */
export type FaultConfig = Partial<Record<FaultRate | FaultSetting, number>>;

/** A fault configuration with every value filled in and checked. */
export type ResolvedFaults = Readonly<Record<FaultRate | FaultSetting, number>>;

const DEFAULTS: ResolvedFaults = {
  rate_429: 0,
  error_5xx: 0,
  pay_5xx_after_charge: 0,
  pay_timeout: 0,
  detail_5xx: 0,
  detail_bad_data: 0,
  detail_partial: 0,
  detail_gone: 0,
  llm_bad_output: 0,
  latency_ms: 0,
  timeout_hang_ms: 30_000,
  seed: 1,
};

const SETTING_LIMITS: Record<FaultSetting, [number, number]> = {
  latency_ms: [0, 60_000],
  timeout_hang_ms: [0, 600_000],
  seed: [0, 0xffffffff],
};

function isRate(name: string): name is FaultRate {
  return (FAULT_RATES as readonly string[]).includes(name);
}

function isSetting(name: string): name is FaultSetting {
  return (FAULT_SETTINGS as readonly string[]).includes(name);
}

/** Checks a configuration and fills in defaults; throws an Error naming the first bad key. */
export function resolveFaults(config: FaultConfig = {}): ResolvedFaults {
  const out: Record<string, number> = { ...DEFAULTS };
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`fault "${name}": must be a number, got ${JSON.stringify(value)}`);
    }
    if (isRate(name)) {
      if (value < 0 || value > 1) throw new Error(`fault "${name}": must be a fraction between 0 and 1, got ${value}`);
    } else if (isSetting(name)) {
      const [min, max] = SETTING_LIMITS[name];
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new Error(`fault "${name}": must be an integer between ${min} and ${max}, got ${value}`);
      }
    } else {
      throw new Error(`fault "${name}": unknown fault (known: ${[...FAULT_RATES, ...FAULT_SETTINGS].join(', ')})`);
    }
    out[name] = value;
  }
  return out as ResolvedFaults;
}

/**
 * Parses the `MOCK_FAULTS` syntax (`name=value,name=value`; blanks ignored) into a checked configuration.
 * Throws an Error naming the bad entry.
 */
export function parseFaults(text: string): ResolvedFaults {
  const config: Record<string, number> = {};
  for (const rawEntry of text.split(',')) {
    const entry = rawEntry.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`fault entry "${entry}": expected name=value`);
    const name = entry.slice(0, eq).trim();
    const rawValue = entry.slice(eq + 1).trim();
    if (!/^\d+(\.\d+)?$/.test(rawValue)) throw new Error(`fault "${name}": "${rawValue}" is not a non-negative number`);
    if (name in config) throw new Error(`fault "${name}": given twice`);
    config[name] = Number(rawValue);
  }
  return resolveFaults(config);
}

/** Reads `MOCK_FAULTS` from an environment; undefined when unset or blank. Throws an Error naming the variable. */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): ResolvedFaults | undefined {
  const text = env.MOCK_FAULTS;
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return parseFaults(text);
  } catch (err) {
    throw new Error(`MOCK_FAULTS: ${(err as Error).message}`);
  }
}

/** Decides, request by request, which faults happen. One per app instance. */
export interface FaultInjector {
  /** The checked configuration in force. */
  readonly config: ResolvedFaults;
  /** True when the fault of this kind happens now; each kind draws from its own seeded sequence. */
  roll(kind: Exclude<FaultRate, StickyFault>): boolean;
  /** True when `key` is one of the keys this kind always hits (decided by the seed and the key alone). */
  hits(kind: StickyFault, key: string): boolean;
}

/** Creates an injector; with no configuration nothing is ever injected. */
export function createFaultInjector(config?: FaultConfig): FaultInjector {
  const resolved = resolveFaults(config);
  const streams = new Map<FaultRate, Prng>();
  for (const kind of FAULT_RATES) streams.set(kind, prngFromString(`faults:${resolved.seed}:${kind}`));
  return {
    config: resolved,
    roll(kind) {
      const rate = resolved[kind];
      if (rate <= 0) return false;
      const draw = (streams.get(kind) as Prng)();
      return draw < rate;
    },
    hits(kind, key) {
      const rate = resolved[kind];
      return rate > 0 && prngFromString(`faults:${resolved.seed}:${kind}:${key}`)() < rate;
    },
  };
}

/** Builds the body of an injected error in the format of the mock that answers it. */
export type FaultErrorBody = (status: 429 | 503, code: string, message: string) => unknown;

/**
 * Hono middleware applying the request-level faults before the route runs: `latency_ms` delay, then
 * `rate_429` (429 with `Retry-After: 1`), then `error_5xx` (503). `GET /healthz` is never faulted.
 */
export function faultMiddleware(injector: FaultInjector, errorBody: FaultErrorBody): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.path === '/healthz') return next();
    await sleep(injector.config.latency_ms, c.req.raw.signal);
    if (injector.roll('rate_429')) {
      c.header('Retry-After', '1');
      return c.json(errorBody(429, 'rate_limited', 'too many requests (injected fault); retry after 1 s'), 429);
    }
    if (injector.roll('error_5xx')) {
      return c.json(errorBody(503, 'service_unavailable', 'service unavailable (injected fault)'), 503);
    }
    return next();
  };
}
