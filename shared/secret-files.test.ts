import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { FILE_BACKED_VARIABLES } from './secret-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'arp-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a file as a secret store (Kubernetes secret volume, Vault Agent) would, and returns its path. */
function secretFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const STRONG = {
  ADMIN_PASSWORD: 'a-long-admin-password-1',
  TOKEN_ISSUER_API_KEY: 'issuer-key-0123456789abcdef',
  API_KEYS: 'acme:acme-key-0123456789abcdef',
  DATA_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('secrets from files: <NAME>_FILE instead of <NAME>', () => {
  it('reads every secret variable from its file, dropping the line break the file ends with', () => {
    const env: NodeJS.ProcessEnv = {};
    const expected: Record<string, string> = {
      API_KEYS: 'acme:acme-key-0123456789abcdef,beta:beta-key-0123456789abcdef',
      ADMIN_PASSWORD: 'from-a-file-password',
      ADMIN_OPERATOR_USER: 'ops',
      ADMIN_OPERATOR_PASSWORD: 'operator-password-from-file',
      TOKEN_ISSUER_API_KEY: 'issuer-key-from-file-0123',
      RECEIPT_SECRET: 'receipt-secret-from-file',
      DATA_ENCRYPTION_KEYS: STRONG.DATA_ENCRYPTION_KEYS,
      OPENAI_API_KEY: 'sk-from-file',
      JWT_SECRET: 'jwt-secret-from-a-file-of-32-chars-at-least',
      REDIS_URL: 'redis://:pw@127.0.0.1:6390',
      DATABASE_URL: 'postgres://app:pw@127.0.0.1:5433/arp',
    };
    for (const name of FILE_BACKED_VARIABLES) env[`${name}_FILE`] = secretFile(name, `${expected[name]}\n`);
    env.ADMIN_OPERATOR_USER = 'ops';
    Object.assign(env, { JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'arp' });
    const config = loadConfig(env);
    expect([...config.API_KEYS.entries()]).toEqual([
      ['acme-key-0123456789abcdef', 'acme'],
      ['beta-key-0123456789abcdef', 'beta'],
    ]);
    expect(config).toMatchObject({
      ADMIN_PASSWORD: expected.ADMIN_PASSWORD,
      ADMIN_OPERATOR_PASSWORD: expected.ADMIN_OPERATOR_PASSWORD,
      TOKEN_ISSUER_API_KEY: expected.TOKEN_ISSUER_API_KEY,
      RECEIPT_SECRET: expected.RECEIPT_SECRET,
      OPENAI_API_KEY: expected.OPENAI_API_KEY,
      JWT_SECRET: expected.JWT_SECRET,
      REDIS_URL: expected.REDIS_URL,
      DATABASE_URL: expected.DATABASE_URL,
    });
    expect(config.DATA_ENCRYPTION_KEYS?.map((k) => k.id)).toEqual(['k1']);
  });

  it('keeps a Windows line break out of the secret too, and every other character in it', () => {
    const config = loadConfig({ ADMIN_PASSWORD_FILE: secretFile('crlf', ' spaced password \r\n') });
    expect(config.ADMIN_PASSWORD).toBe(' spaced password ');
  });

  it('refuses a variable given both ways, naming it, whatever the values', () => {
    const message = configError({ ADMIN_PASSWORD: 'one-password-here', ADMIN_PASSWORD_FILE: secretFile('both', 'one-password-here') });
    expect(message).toContain('ADMIN_PASSWORD_FILE: ADMIN_PASSWORD is set too; give one of the two');
    expect(message).not.toContain('one-password-here');
  });

  it('a file that cannot be read or is empty is an error naming the variable and the path', () => {
    const missing = join(dir, 'not-there');
    const unreadable = secretFile('unreadable', 'secret');
    chmodSync(unreadable, 0o000);
    const message = configError({ TOKEN_ISSUER_API_KEY_FILE: missing, RECEIPT_SECRET_FILE: secretFile('empty', '\n'), API_KEYS_FILE: unreadable });
    expect(message).toContain(`TOKEN_ISSUER_API_KEY_FILE: cannot read ${missing} (ENOENT)`);
    expect(message).toContain(`RECEIPT_SECRET_FILE: ${join(dir, 'empty')} is empty`);
    // root reads any file: the refusal is only checked where permissions apply.
    if (process.getuid?.() !== 0) expect(message).toContain(`API_KEYS_FILE: cannot read ${unreadable} (EACCES)`);
  });

  it('a bad value read from a file is refused like one from the environment, without showing it', () => {
    const message = configError({ API_KEYS_FILE: secretFile('bad-keys', 'no-colon-key-0123456789\n') });
    expect(message).toContain('API_KEYS: entry 1 is not tenant:key');
    expect(message).not.toContain('no-colon-key-0123456789');
  });

  it('production accepts strong secrets from files and still refuses weak ones from files', () => {
    const files = Object.fromEntries(Object.entries(STRONG).map(([name, value]) => [`${name}_FILE`, secretFile(`prod-${name}`, `${value}\n`)]));
    expect(() => loadConfig({ NODE_ENV: 'production', ...files })).not.toThrow();
    const weak = { ...files, ADMIN_PASSWORD_FILE: secretFile('weak-admin', 'admin\n') };
    expect(configError({ NODE_ENV: 'production', ...weak })).toMatch(/ADMIN_PASSWORD.*known default/);
  });

  it('a blank <NAME>_FILE means unset, as a blank variable does', () => {
    expect(loadConfig({ ADMIN_PASSWORD_FILE: '  ', ADMIN_PASSWORD: 'from-env-password' }).ADMIN_PASSWORD).toBe('from-env-password');
  });
});
