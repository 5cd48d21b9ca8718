import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { programArgs } from '../../test/support/programs.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The product's processes refuse to start in production on weak secrets (issue 7, item 1), each on
 * the secrets it uses: the gateway on the API keys, the admin password and the data keys; a worker
 * and reconcile on the issuer key and the data keys. The refusal names the variable and never shows
 * the value. No Redis or Postgres is given, so a process that got past its secrets stops on those.
 */
function run(program: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, programArgs(program), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // Generous: a cold tsx start on a busy 2-core machine takes seconds; a process that starts serving is killed.
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const WEAK = {
  API_KEYS: 'acme:dev-key-7f3a9c',
  ADMIN_PASSWORD: 'change-me',
  ADMIN_OPERATOR_PASSWORD: 'op-pass-k2',
  TOKEN_ISSUER_API_KEY: 'issuer-k3y-x1',
};
const STRONG = {
  API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60',
  ADMIN_PASSWORD: 'correct horse battery staple',
  TOKEN_ISSUER_API_KEY: 'iss_live_5b8e0c2d7f4a9163',
  DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

describe('NODE_ENV=production: the product refuses to start on weak secrets', () => {
  it.concurrent.each([
    ['apps/gateway/main.ts', ['API_KEYS', 'ADMIN_PASSWORD', 'ADMIN_OPERATOR_PASSWORD', 'DATA_ENCRYPTION_KEYS'], ['TOKEN_ISSUER_API_KEY']],
    ['apps/worker/main.ts', ['TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS'], ['API_KEYS', 'ADMIN_PASSWORD']],
    ['apps/cli/reconcile.ts', ['TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS'], ['API_KEYS', 'ADMIN_PASSWORD']],
  ])('%s with defaults and weak values: exits non-zero naming %j, never a value', async (program, named, notNamed) => {
    const { code, output } = await run(program, WEAK);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    for (const name of named) expect(output).toMatch(new RegExp(`${name}: (is |the key )`));
    for (const name of notNamed) expect(output).not.toContain(`${name}:`);
    for (const value of Object.values(WEAK)) expect(output).not.toContain(value.split(':').at(-1));
    expect(output).not.toMatch(/listening|worker started/);
  }, 60_000);

  it.concurrent('the gateway with strong secrets gets past them (and stops on the missing REDIS_URL)', async () => {
    const { code, output } = await run('apps/gateway/main.ts', STRONG);
    expect(code).toBe(1);
    expect(output).toContain('REDIS_URL');
    expect(output).not.toMatch(/invalid configuration/);
  }, 60_000);
});
