import { z } from 'zod';
import { parseDataKeys, type DataKey } from './crypto/keyring.ts';

/** Raised when an environment variable is invalid; the message names the variable. */
export class ConfigError extends Error {}

const url = z.url({ protocol: /^https?$/ });
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), url.optional());
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(blankIsUnset, z.coerce.number().int().min(min).max(max).default(fallback));

/** `tenant:key,tenant:key` → map from key to tenant. */
const apiKeys = z
  .string()
  .default('local:dev-key')
  .transform((raw, ctx) => {
    const byKey = new Map<string, string>();
    for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [tenant, key, extra] = pair.split(':');
      if (!tenant || !key || extra !== undefined) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not tenant:key` });
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

/** A `VOICEID_ENROLLED` entry: `voice`, or `tenant:voice` (split at the first colon). */
const isEnrolment = (entry: string) => {
  const [tenant = '', ...voice] = entry.split(':');
  return tenant.trim() !== '' && (voice.length === 0 || voice.join(':').trim() !== '');
};

/** The one schema for every process's configuration (DESIGN.md §6). */
export const configSchema = z.object({
  PORT: int(0, 65535, 8000),
  HOST: z.string().default('127.0.0.1'),
  REDIS_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^rediss?$/ }).optional()),
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
  API_KEYS: apiKeys,
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(1).default('admin'),
  NODE_ENV: z.string().optional(),
  /** Keys sealing payment token ids and receipts at rest; the first seals, all open (shared/crypto). */
  DATA_ENCRYPTION_KEYS: dataKeys,
  /** How long a payment token lives at the issuer; the report stage closes it as soon as the task ends. */
  TOKEN_TTL_SECONDS: int(1, 30 * 24 * 3600, 6 * 3600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Jobs one worker process runs at once, per stage; detail is I/O bound and gets more. */
  WORKER_CONCURRENCY: int(1, 256, 4),
  DETAIL_CONCURRENCY: int(1, 256, 8),
  /** Time limit of one provider HTTP call. */
  PROVIDER_TIMEOUT_MS: int(100, 120_000, 10_000),
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

/** Reads and validates the environment once; throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (config.NODE_ENV === 'production' && !config.DATA_ENCRYPTION_KEYS) {
    throw new ConfigError('invalid configuration:\n  DATA_ENCRYPTION_KEYS: is required in production (the development key is public)');
  }
  return config;
}
