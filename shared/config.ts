import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDataKeys, type DataKey } from './crypto/keyring.ts';
import { MoneyFormatError, parseMoney } from './money.ts';
import type { JwtSettings } from './jwt-settings.ts';
import { readSecretFiles } from './secret-files.ts';
import { allowListProblems } from './webhooks/allow-list.ts';
import { clientTls, type ClientTls, type TlsFiles } from './tls-files.ts';
import { parsePriceList, type PriceList } from './llm/prices.ts';
import { productionRefusal, secretProblems, SECRET_USES, type SecretUse } from './secrets.ts';

/** Raised when an environment variable is invalid; the message names the variable. */
export class ConfigError extends Error {}

const url = z.url({ protocol: /^https?$/ });
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), url.optional());
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(blankIsUnset, z.coerce.number().int().min(min).max(max).default(fallback));

/** `tenant:key,tenant:key` → map from key to tenant. Errors name an entry by its position, never its text (it holds a key). */
const apiKeys = z
  .string()
  .default('local:dev-key')
  .transform((raw, ctx) => {
    const byKey = new Map<string, string>();
    const pairs = raw.split(',').map((s) => s.trim()).filter(Boolean);
    for (const [i, pair] of pairs.entries()) {
      const [tenant, key, extra] = pair.split(':');
      if (!tenant || !key || extra !== undefined) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not tenant:key` });
        return z.NEVER;
      }
      if (byKey.has(key) && byKey.get(key) !== tenant) {
        ctx.addIssue({ code: 'custom', message: `a key is listed for two tenants (${byKey.get(key)} and ${tenant})` });
        return z.NEVER;
      }
      byKey.set(key, tenant);
    }
    if (byKey.size === 0) ctx.addIssue({ code: 'custom', message: 'lists no tenant:key pair' });
    return byKey;
  });

/** `DATA_ENCRYPTION_KEYS`: unset means the development key (refused in production, below). */
const dataKeys = z.preprocess(
  blankIsUnset,
  z
    .string()
    .optional()
    .transform((raw, ctx): DataKey[] | undefined => {
      if (raw === undefined) return undefined;
      try {
        return parseDataKeys(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
);

/** The longest freshness window a task or MEMORY_MAX_AGE may set: a year, in seconds. */
export const MAX_AGE_LIMIT = 31_536_000;

/** The default model's list price (USD per million tokens); set LLM_PRICES for the models you use. */
export const DEFAULT_LLM_PRICES = '{"gpt-4o-mini":{"input":"0.15","output":"0.60"}}';

/** `LLM_PRICES`: model → USD per million tokens, input and output (shared/llm/prices.ts). */
const llmPrices = z.preprocess(
  blankIsUnset,
  z
    .string()
    .default(DEFAULT_LLM_PRICES)
    .transform((raw, ctx): PriceList => {
      try {
        return parsePriceList(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
);

/** One trusted proxy: an address, or a network in CIDR notation. */
export interface ProxyNet {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * `TRUSTED_PROXIES`: the proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For
 * the gateway believes. Unset: none, the client address is the socket's.
 */
const trustedProxies = z.preprocess(
  blankIsUnset,
  z
    .string()
    .optional()
    .transform((raw, ctx): ProxyNet[] => {
      const nets: ProxyNet[] = [];
      for (const [i, entry] of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean).entries()) {
        const [address = '', prefixText, extra] = entry.split('/');
        const version = isIP(address);
        const max = version === 6 ? 128 : 32;
        const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
        if (!version || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
          ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is not an IP address or a network like 10.0.0.0/8` });
          return z.NEVER;
        }
        nets.push({ address, prefix, family: version === 6 ? 'ipv6' : 'ipv4' });
      }
      return nets;
    }),
);

/** An optional amount of CNY as a decimal string ("500.00") → fen; unset or blank means none. */
const optionalMoney = z.preprocess(
  blankIsUnset,
  z
    .string()
    .optional()
    .transform((raw, ctx): number | undefined => {
      if (raw === undefined) return undefined;
      try {
        const fen = parseMoney(raw);
        if (fen > 0) return fen;
        ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof MoneyFormatError ? err.message : 'is not an amount' });
      }
      return z.NEVER;
    }),
);

/** A `VOICEID_ENROLLED` entry: `voice`, or `tenant:voice` (split at the first colon). */
const isEnrolment = (entry: string) => {
  const [tenant = '', ...voice] = entry.split(':');
  return tenant.trim() !== '' && (voice.length === 0 || voice.join(':').trim() !== '');
};

/** `WEBHOOK_ALLOWED_HOSTS`: comma-separated names, `*.suffixes`, addresses and networks (shared/webhooks/allow-list.ts). */
const allowedHosts = z.preprocess(
  blankIsUnset,
  z
    .string()
    .optional()
    .transform((raw, ctx): string[] => {
      const entries = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const problems = allowListProblems(entries);
      if (problems.length) {
        ctx.addIssue({ code: 'custom', message: problems.join('; ') });
        return z.NEVER;
      }
      return entries;
    }),
);

/** Signs webhooks when WEBHOOK_SECRET is unset (development only: production refuses it, shared/secrets.ts). */
export const DEV_WEBHOOK_SECRET = 'dev-webhook-secret';

/** The one schema for every process's configuration (DESIGN.md §6). */
export const configSchema = z.object({
  PORT: int(0, 65535, 8000),
  HOST: z.string().default('127.0.0.1'),
  REDIS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^rediss?$/ }).optional()),
  /**
   * Redis Cluster seed nodes, `host:port` (or `redis://…` / `rediss://…` with credentials), comma-separated;
   * when given, every process uses a cluster client and takes precedence over REDIS_URL (queues/connection.ts).
   */
  REDIS_CLUSTER_NODES: z.preprocess(blankIsUnset, z.string().transform(parseClusterNodes).optional()),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('arp'),
  DATABASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('public'),
  DATA_DIR: z.string().min(1).default('./.data'),
  MARKETPLACE_URL: optionalUrl,
  TOKEN_ISSUER_URL: optionalUrl,
  VOICEID_URL: optionalUrl,
  TOKEN_ISSUER_API_KEY: z.string().min(1).default('dev-issuer-key'),
  RECEIPT_SECRET: z.string().min(1).default('dev-receipt-secret'),
  /** For the voice-ID stand-in `npm start` runs: `voice` (every tenant) or `tenant:voice`, comma-separated. */
  VOICEID_ENROLLED: z
    .string()
    .min(1)
    .default('demo-voice')
    .refine((v) => v.split(',').every(isEnrolment), 'each entry is `voice` or `tenant:voice`, neither part empty'),
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_API_KEY: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Model prices for the cost shown per task (not charged to the budget). */
  LLM_PRICES: llmPrices,
  API_KEYS: apiKeys,
  /** The read-only admin login: Bull Board in read-only mode, the dashboard, /metrics. */
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(1).default('admin'),
  /** The operator login: Bull Board with its actions. No password means nobody can act on the queues. */
  ADMIN_OPERATOR_USER: z.string().min(1).default('operator'),
  ADMIN_OPERATOR_PASSWORD: z.preprocess(blankIsUnset, z.string().optional()),
  /** Proxies whose X-Forwarded-For names the client (the failed-login throttle counts per client address). */
  TRUSTED_PROXIES: trustedProxies,
  /** Failed API-key or admin logins from one client address per minute before it gets 429 for a minute. */
  AUTH_FAILURE_LIMIT: int(1, 1_000_000, 20),
  /**
   * Spending-policy defaults of every tenant (`PUT /admin/tenants/:tenant/policy` overrides them): task
   * submissions per minute (counted in Redis, across replicas), open (queued + running) tasks, the
   * largest budget of one task, and the spend of the tasks created on one UTC day (none when unset).
   */
  TENANT_TASKS_PER_MINUTE: int(1, 1_000_000, 120),
  TENANT_OPEN_TASKS: int(1, 1_000_000, 200),
  /** JWT on /v1 beside API keys: HS256 with JWT_SECRET, or RS256/ES256 with keys from JWT_JWKS_URL; iss and aud checked. */
  JWT_SECRET: z.preprocess(blankIsUnset, z.string().optional()),
  JWT_JWKS_URL: optionalUrl,
  JWT_ISSUER: z.preprocess(blankIsUnset, z.string().optional()),
  JWT_AUDIENCE: z.preprocess(blankIsUnset, z.string().optional()),
  TENANT_MAX_BUDGET: optionalMoney,
  TENANT_DAILY_SPEND: optionalMoney,
  NODE_ENV: z.string().optional(),
  /** Keys sealing payment token ids and receipts at rest; the first seals, all open (shared/crypto). */
  DATA_ENCRYPTION_KEYS: dataKeys,
  /** How long a payment token lives at the issuer; the report stage closes it as soon as the task ends. */
  TOKEN_TTL_SECONDS: int(1, 30 * 24 * 3600, 6 * 3600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` lines, or `pretty` (pino-pretty, for people); `auto`: pretty when `npm start` writes to a terminal outside production. */
  LOG_FORMAT: z.preprocess(blankIsUnset, z.enum(['auto', 'json', 'pretty']).default('auto')),
  /** Traces over OTLP/HTTP to this collector (`<url>/v1/traces`); unset: tracing off, no SDK loaded (shared/telemetry). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  /** A worker process's own HTTP port: /metrics, /healthz, /readyz. Unset: none (0: any free port). */
  WORKER_HTTP_PORT: z.preprocess(blankIsUnset, z.coerce.number().int().min(0).max(65535).optional()),
  WORKER_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** Jobs one worker process runs at once, per stage; detail is I/O bound and gets more. */
  WORKER_CONCURRENCY: int(1, 256, 4),
  DETAIL_CONCURRENCY: int(1, 256, 8),
  /** TLS to Redis (with a rediss:// URL): a CA to trust besides the public ones, and a client certificate. */
  REDIS_CA_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  REDIS_CERT_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  REDIS_KEY_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  /** TLS to the providers: a CA to trust besides the public ones, and our client certificate (mutual TLS). */
  PROVIDER_CA_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  PROVIDER_CERT_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  PROVIDER_KEY_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  /** Time limit of one provider HTTP call. */
  PROVIDER_TIMEOUT_MS: int(100, 120_000, 10_000),
  /**
   * Memory (issue 11): a record the tenant bought less than this many seconds ago is used again at no
   * cost (a task may set its own `maxAge`; 0 = always buy). Records older than MEMORY_RETENTION seconds
   * are deleted. Free search results are cached per tenant and query for SEARCH_CACHE_TTL seconds (0: off).
   */
  MEMORY_MAX_AGE: int(0, MAX_AGE_LIMIT, 7 * 86_400),
  MEMORY_RETENTION: int(3_600, 10 * 365 * 86_400, 90 * 86_400),
  SEARCH_CACHE_TTL: int(0, 86_400, 300),
  /**
   * Following a task (issue 13): a comment line on every open event stream this often (and a look at
   * the table for wake-ups that never came).
   */
  EVENTS_HEARTBEAT_MS: int(50, 300_000, 15_000),
  /**
   * Webhooks (issue 13): the HMAC key of X-Signature; where they may go (nothing listed: webhooks are
   * off); the time limit of one POST; the retry backoff (exponential from the base, jittered, capped) and
   * how long a delivery is tried before it is given up (seconds).
   */
  WEBHOOK_SECRET: z.preprocess(blankIsUnset, z.string().optional()),
  WEBHOOK_ALLOWED_HOSTS: allowedHosts,
  WEBHOOK_TIMEOUT_MS: int(100, 60_000, 10_000),
  WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000, 10_000),
  WEBHOOK_RETRY_MAX_MS: int(100, 86_400_000, 3_600_000),
  WEBHOOK_RETRY_WINDOW: int(1, 7 * 86_400, 86_400),
  /** How long a stopping process waits for in-flight jobs before handing them back. */
  SHUTDOWN_TIMEOUT_MS: int(100, 60_000, 4_000),
  /**
   * How long a worker's lock on an active job lasts without renewal. A worker killed mid-job loses
   * its lock after this, and its job is handed to another worker (BullMQ stalled-job recovery).
   */
  JOB_LOCK_MS: int(1_000, 600_000, 30_000),
  /** Retry backoff of failed jobs: exponential from the base, with jitter, capped (Retry-After wins). */
  RETRY_BASE_MS: int(10, 60_000, 500),
  RETRY_MAX_MS: int(100, 600_000, 30_000),
  /** How often workers look in Postgres for tasks whose queued work was lost. */
  SWEEP_INTERVAL_MS: int(0, 3_600_000, 30_000),
  /** A task not advanced for this long is driven on again by the sweeper. */
  STALE_TASK_MS: int(1_000, 86_400_000, 60_000),
});

export type Config = z.infer<typeof configSchema>;

/**
 * A message about a variable, with the variable's value taken out wherever it appears: configuration
 * errors name the variable, never its value (it may be a secret).
 */
function withoutValue(message: string, value: unknown): string {
  return typeof value === 'string' && value.length >= 4 ? message.split(value).join('[its value]') : message;
}

/**
 * Reads and validates the environment once (each secret may come from a file: `<NAME>_FILE`, see
 * shared/secret-files.ts); throws a ConfigError naming each bad variable. With
 * `NODE_ENV=production` it also refuses the secrets of `uses` (the ones this process uses; all by
 * default) that are unset, a known default or short (shared/secrets.ts).
 */
export function loadConfig(given: NodeJS.ProcessEnv = process.env, opts: { uses?: readonly SecretUse[] } = {}): Config {
  const { env, problems } = readSecretFiles(given);
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${withoutValue(i.message, env[String(i.path[0])])}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const lines: string[] = [];
  if (config.ADMIN_OPERATOR_PASSWORD !== undefined && config.ADMIN_OPERATOR_USER === config.ADMIN_USER) {
    lines.push('  ADMIN_OPERATOR_USER: must differ from ADMIN_USER (the two logins grant different rights)');
  }
  lines.push(...jwtProblems(config).map((p) => `  ${p}`));
  for (const prefix of ['PROVIDER', 'REDIS'] as const) {
    if ((config[`${prefix}_CERT_FILE`] === undefined) !== (config[`${prefix}_KEY_FILE`] === undefined)) {
      lines.push(`  ${prefix}_CERT_FILE, ${prefix}_KEY_FILE: give both (a client certificate and its key) or neither`);
    }
  }
  const redisTlsGiven = config.REDIS_CA_FILE ?? config.REDIS_CERT_FILE ?? config.REDIS_KEY_FILE;
  if (redisTlsGiven !== undefined && !(config.REDIS_CLUSTER_NODES ? config.REDIS_CLUSTER_NODES.tls : config.REDIS_URL?.startsWith('rediss://'))) {
    lines.push(
      config.REDIS_CLUSTER_NODES
        ? '  REDIS_CA_FILE, REDIS_CERT_FILE, REDIS_KEY_FILE: apply to TLS only: write the REDIS_CLUSTER_NODES as rediss://host:port'
        : '  REDIS_CA_FILE, REDIS_CERT_FILE, REDIS_KEY_FILE: apply to TLS only: REDIS_URL must be rediss://',
    );
  }
  if (config.NODE_ENV === 'production') {
    for (const p of secretProblems(config, env, opts.uses ?? SECRET_USES)) lines.push(`  ${productionRefusal(p)}`);
  }
  if (lines.length) throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  return config;
}

/**
 * The tracing variables alone, read before anything else (a program's first import starts tracing,
 * shared/telemetry/sdk.ts); a bad value stops the process naming the variable, as loadConfig would.
 */
export function tracingSettings(env: NodeJS.ProcessEnv): Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT'> {
  const result = configSchema.pick({ OTEL_EXPORTER_OTLP_ENDPOINT: true }).safeParse(env);
  if (!result.success) throw new ConfigError(`invalid configuration:\n${result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return result.data;
}

/** The provider TLS files of a configuration (shared/providers/tls.ts). */
export function providerTls(config: Config): TlsFiles {
  return { caFile: config.PROVIDER_CA_FILE, certFile: config.PROVIDER_CERT_FILE, keyFile: config.PROVIDER_KEY_FILE };
}

/** A Redis Cluster to connect to: its seed nodes (the client learns the rest), TLS, and the credentials of every node. */
export interface ClusterNodes {
  nodes: Array<{ host: string; port: number }>;
  tls: boolean;
  username?: string;
  password?: string;
}

/**
 * REDIS_CLUSTER_NODES: `host:port,host:port` (plain) or the same as `redis://` / `rediss://` addresses, which may
 * carry a user and password. Every node must agree on TLS and credentials (a cluster has one of each); no
 * database number (a cluster has database 0 only). A problem is named without repeating a password.
 */
export function parseClusterNodes(text: string, ctx: z.RefinementCtx): ClusterNodes {
  const problems: string[] = [];
  const parsed = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      let url: URL;
      try {
        url = new URL(/^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`);
      } catch {
        problems.push(`"${entry.replace(/\/\/[^@/]*@/, '//…@')}" is not host:port`);
        return undefined;
      }
      const where = `${url.hostname}:${url.port}`;
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') problems.push(`${where}: redis:// or rediss:// only`);
      else if (!url.hostname || !/^\d+$/.test(url.port) || Number(url.port) < 1 || Number(url.port) > 65535) problems.push(`"${url.hostname}${url.port ? `:${url.port}` : ''}" needs a host and a port (host:port)`);
      else if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') problems.push(`${where}: a cluster has database 0 only`);
      return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port), tls: url.protocol === 'rediss:', username: decodeURIComponent(url.username) || undefined, password: decodeURIComponent(url.password) || undefined };
    });
  const nodes = parsed.filter((n) => n !== undefined);
  if (nodes.length === 0 && problems.length === 0) problems.push('name at least one node (host:port)');
  if (new Set(nodes.map((n) => n.tls)).size > 1) problems.push('all nodes redis:// or all rediss:// (TLS is the same for every node)');
  if (new Set(nodes.map((n) => `${n.username ?? ''}\0${n.password ?? ''}`)).size > 1) problems.push('every node must carry the same user and password (or none)');
  if (problems.length) {
    ctx.addIssue({ code: 'custom', message: problems.join('; ') });
    return z.NEVER;
  }
  const first = nodes[0]!;
  return { nodes: nodes.map(({ host, port }) => ({ host, port })), tls: first.tls, ...(first.username ? { username: first.username } : {}), ...(first.password ? { password: first.password } : {}) };
}

/** The Redis every process shares: a cluster (REDIS_CLUSTER_NODES, which wins) or one server (REDIS_URL); undefined when neither is set. */
export function redisTarget(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): string | ClusterNodes | undefined {
  return config.REDIS_CLUSTER_NODES ?? config.REDIS_URL;
}

/** TLS options for Redis connections, read from REDIS_*_FILE; undefined when none is given. */
export function redisTls(config: Config): ClientTls | undefined {
  return clientTls({ caFile: config.REDIS_CA_FILE, certFile: config.REDIS_CERT_FILE, keyFile: config.REDIS_KEY_FILE }, { ca: 'REDIS_CA_FILE', cert: 'REDIS_CERT_FILE', key: 'REDIS_KEY_FILE' });
}

/** JWT settings that cannot work: both key sources, or a key source without the claims it must check. */
function jwtProblems(config: Config): string[] {
  const { JWT_SECRET: secret, JWT_JWKS_URL: jwks, JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = config;
  if (secret !== undefined && jwks !== undefined) return ['JWT_SECRET, JWT_JWKS_URL: give one (HS256 with a secret, or RS256/ES256 from a JWKS URL)'];
  if (secret === undefined && jwks === undefined) {
    return issuer !== undefined || audience !== undefined ? ['JWT_ISSUER, JWT_AUDIENCE: set JWT_SECRET or JWT_JWKS_URL too (they say how tokens are signed)'] : [];
  }
  const missing = [issuer === undefined && 'JWT_ISSUER', audience === undefined && 'JWT_AUDIENCE'].filter(Boolean);
  return missing.length ? [`${missing.join(', ')}: required with ${secret !== undefined ? 'JWT_SECRET' : 'JWT_JWKS_URL'} (every token's iss and aud are checked)`] : [];
}

/** How JWTs are verified, or undefined when JWT is not configured (API keys only). */
export function jwtSettings(config: Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>): JwtSettings | undefined {
  const { JWT_SECRET: secret, JWT_JWKS_URL: jwksUrl, JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = config;
  if (issuer === undefined || audience === undefined) return undefined;
  if (secret !== undefined) return { secret, issuer, audience };
  if (jwksUrl !== undefined) return { jwksUrl, issuer, audience };
  return undefined;
}
