import { DEVELOPMENT_KEY, type DataKey } from './crypto/keyring.ts';

/**
 * The product's secrets and the rules production holds them to (issue 7, item 1). A process checks
 * the secrets it uses; the provider stand-ins in `mocks/` are not the product and keep their defaults.
 * Every message names the variable and never quotes its value.
 */

/** What a process uses a secret for: the v1 API, the admin pages, the token issuer, the sealed books. */
export type SecretUse = 'api' | 'admin' | 'issuer' | 'books' | 'webhook';

export const SECRET_USES: readonly SecretUse[] = ['api', 'admin', 'issuer', 'books', 'webhook'];

/** Shortest secret production accepts. */
export const MIN_SECRET_LENGTH = 16;

/** Values that ship in examples, defaults and tutorials: known to everyone, so secret to no one. */
const KNOWN_DEFAULTS = new Set(['admin', 'change-me', 'changeme', 'password', 'secret']);
const KNOWN_DEFAULT_PREFIXES = ['dev-', 'change-me', 'changeme'];

/** Why a secret value is not fit for production, or undefined when it is. Never includes the value. */
export function weakSecret(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return 'is unset';
  const folded = value.trim().toLowerCase();
  if (KNOWN_DEFAULTS.has(folded) || KNOWN_DEFAULT_PREFIXES.some((p) => folded.startsWith(p))) return 'is a known default';
  if (value.length < MIN_SECRET_LENGTH) return `is shorter than ${MIN_SECRET_LENGTH} characters`;
  return undefined;
}

/** The parts of a configuration the secret rules read. */
export interface SecretConfig {
  API_KEYS: Map<string, string>;
  ADMIN_PASSWORD: string;
  ADMIN_OPERATOR_PASSWORD?: string;
  TOKEN_ISSUER_API_KEY: string;
  DATA_ENCRYPTION_KEYS?: DataKey[];
  JWT_SECRET?: string;
  WEBHOOK_SECRET?: string;
  /** Webhooks are on when it lists a host: only then is WEBHOOK_SECRET needed. */
  WEBHOOK_ALLOWED_HOSTS?: readonly string[];
}

/** An HS256 key shorter than the hash (256 bits) is refused by RFC 7518 §3.2. */
export const MIN_JWT_SECRET_LENGTH = 32;

/** One secret that is not fit for production: the variable, and what is wrong with it. */
export interface SecretProblem {
  variable: string;
  problem: string;
  /** What the process does instead when the variable is unset (the development default), for a warning. */
  unsetMeans?: string;
}

const blank = (v: string | undefined) => v === undefined || v.trim() === '';

/**
 * The secrets of `uses` that production refuses: unset, a known default, or shorter than 16 characters;
 * DATA_ENCRYPTION_KEYS unset or sealing with the public development key. `env` tells unset from a
 * default the schema filled in. ADMIN_OPERATOR_PASSWORD may be unset (then nobody can write).
 */
export function secretProblems(config: SecretConfig, env: NodeJS.ProcessEnv, uses: readonly SecretUse[] = SECRET_USES): SecretProblem[] {
  const problems: SecretProblem[] = [];
  if (uses.includes('api')) {
    if (blank(env.API_KEYS)) {
      problems.push({ variable: 'API_KEYS', problem: 'is unset', unsetMeans: 'the API accepts the development key "dev-key" (tenant "local")' });
    } else {
      for (const [key, tenant] of config.API_KEYS) {
        const problem = weakSecret(key);
        if (problem) problems.push({ variable: 'API_KEYS', problem: `the key of tenant "${tenant}" ${problem}` });
      }
    }
    if (config.JWT_SECRET !== undefined) {
      const jwt = weakSecret(config.JWT_SECRET) ?? (config.JWT_SECRET.length < MIN_JWT_SECRET_LENGTH ? `is shorter than ${MIN_JWT_SECRET_LENGTH} characters (HS256 needs 256 bits)` : undefined);
      if (jwt) problems.push({ variable: 'JWT_SECRET', problem: jwt });
    }
  }
  if (uses.includes('admin')) {
    const admin = blank(env.ADMIN_PASSWORD) ? 'is unset' : weakSecret(config.ADMIN_PASSWORD);
    if (admin) problems.push({ variable: 'ADMIN_PASSWORD', problem: admin, unsetMeans: 'Bull Board and the dashboard accept admin/admin (read-only)' });
    if (config.ADMIN_OPERATOR_PASSWORD !== undefined) {
      const operator = weakSecret(config.ADMIN_OPERATOR_PASSWORD);
      if (operator) problems.push({ variable: 'ADMIN_OPERATOR_PASSWORD', problem: operator });
    }
  }
  if (uses.includes('issuer')) {
    const issuer = blank(env.TOKEN_ISSUER_API_KEY) ? 'is unset' : weakSecret(config.TOKEN_ISSUER_API_KEY);
    if (issuer) problems.push({ variable: 'TOKEN_ISSUER_API_KEY', problem: issuer, unsetMeans: 'the token issuer is called with the development key "dev-issuer-key"' });
  }
  if (uses.includes('webhook') && (config.WEBHOOK_ALLOWED_HOSTS?.length ?? 0) > 0) {
    const webhook = weakSecret(config.WEBHOOK_SECRET);
    if (webhook) problems.push({ variable: 'WEBHOOK_SECRET', problem: webhook, unsetMeans: 'webhooks are signed with the development secret "dev-webhook-secret"' });
  }
  if (uses.includes('books')) {
    const keys = config.DATA_ENCRYPTION_KEYS;
    if (!keys?.length) {
      problems.push({ variable: 'DATA_ENCRYPTION_KEYS', problem: 'is unset', unsetMeans: 'token ids and receipts are sealed with the public development key' });
    } else if (keys[0]!.key.equals(DEVELOPMENT_KEY.key)) {
      problems.push({ variable: 'DATA_ENCRYPTION_KEYS', problem: 'seals with the public development key (list your own key first)' });
    }
  }
  return problems;
}

/** The line a production start-up refuses with, for one problem. */
export function productionRefusal(p: SecretProblem): string {
  return `${p.variable}: ${p.problem}; production needs ${p.variable === 'DATA_ENCRYPTION_KEYS' ? 'keys of your own (`openssl rand -base64 32`)' : `a secret of at least ${p.variable === 'JWT_SECRET' ? MIN_JWT_SECRET_LENGTH : MIN_SECRET_LENGTH} characters that is not a known default`}`;
}

/** The secrets each program of the product uses, so it checks those (and only those) at start. */
export const PROGRAM_SECRETS = {
  gateway: ['api', 'admin', 'books'],
  worker: ['issuer', 'books', 'webhook'],
  reconcile: ['issuer', 'books'],
  rotateKeys: ['books'],
  start: SECRET_USES,
} as const satisfies Record<string, readonly SecretUse[]>;
