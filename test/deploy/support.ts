import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChecks, type Program } from '../../infra/process-model.ts';

/**
 * Production-grade values for every secret a deployment gives (none is a known default, each is 16+
 * characters), so a description's environment can be put through the programs' real start-up checks.
 */
export const STRONG_SECRETS: Record<string, string> = {
  API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60',
  ADMIN_PASSWORD: 'correct horse battery staple',
  ADMIN_OPERATOR_PASSWORD: 'tr0ub4dor and 3 more words',
  TOKEN_ISSUER_API_KEY: 'iss_live_5b8e0c2d7f4a9163',
  DATA_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  WEBHOOK_SECRET: 'whsec_2f7c9a1e4b6d8053',
  OPENAI_API_KEY: 'sk-test-0123456789abcdef',
  REDIS_URL: 'redis://redis:6379',
  DATABASE_URL: 'postgres://arp:pg-password-0123456789@postgres:5432/arp',
};

/**
 * Runs a program's start-up checks (NODE_ENV as the environment says) on `env`, with every `<NAME>_FILE`
 * that points under `secretDir` read from a scratch folder holding STRONG_SECRETS under their names.
 * Returns the refusal, or undefined when the program would start.
 */
export function refusal(program: Program, env: Record<string, string>, secretDir: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'arp-deploy-secrets-'));
  try {
    for (const [name, value] of Object.entries(STRONG_SECRETS)) writeFileSync(join(dir, name), `${value}\n`);
    const local = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k.endsWith('_FILE') && v.startsWith(`${secretDir}/`) ? join(dir, v.slice(secretDir.length + 1)) : v]));
    startChecks(program, local);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
