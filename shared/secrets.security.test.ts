import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { developmentDefaults } from '../apps/runtime/infra.ts';
import { ConfigError, loadConfig } from './config.ts';
import { DEVELOPMENT_KEY } from './crypto/keyring.ts';
import { PROGRAM_SECRETS } from './secrets.ts';

/**
 * Production refuses default credentials (issue 7, item 1): with NODE_ENV=production a process refuses
 * to start when a secret it uses is unset, a known default (`dev-*`, `admin`, `change-me`, `password`)
 * or shorter than 16 characters — naming the variable, never echoing the value. DATA_ENCRYPTION_KEYS
 * is checked as keys: missing, or sealing with the public development key, is refused.
 */
const dataKey = (id = 'k1') => `${id}:${randomBytes(32).toString('base64')}`;
const STRONG = {
  API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60,globex:ak_0e1d2c3b4a596877',
  ADMIN_PASSWORD: 'correct horse battery staple',
  ADMIN_OPERATOR_PASSWORD: 'operator-Q7v!s9LmZp2x',
  TOKEN_ISSUER_API_KEY: 'iss_live_5b8e0c2d7f4a9163',
  DATA_ENCRYPTION_KEYS: dataKey(),
};
const production = (env: Record<string, string | undefined>) => ({ NODE_ENV: 'production', ...env }) as Record<string, string>;

/** The ConfigError loadConfig throws for this environment (fails the test when it does not throw). */
function refusal(env: Record<string, string>, uses?: Parameters<typeof loadConfig>[1]): string {
  try {
    loadConfig(env, uses);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('NODE_ENV=production refuses weak secrets, naming the variable', () => {
  it('with nothing set, every secret the product uses is named', () => {
    const message = refusal(production({}));
    for (const name of ['API_KEYS', 'ADMIN_PASSWORD', 'TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS']) expect(message).toMatch(new RegExp(`^  ${name}: is unset`, 'm'));
  });

  it('the development defaults (dev-key, admin/admin, dev-issuer-key) are not accepted', () => {
    const message = refusal(production({ ...STRONG, API_KEYS: 'local:dev-key', ADMIN_PASSWORD: 'admin', TOKEN_ISSUER_API_KEY: 'dev-issuer-key' }));
    expect(message).toMatch(/API_KEYS: the key of tenant "local" is a known default/);
    expect(message).toMatch(/ADMIN_PASSWORD: is a known default/);
    expect(message).toMatch(/TOKEN_ISSUER_API_KEY: is a known default/);
    expect(message).not.toMatch(/DATA_ENCRYPTION_KEYS|ADMIN_OPERATOR_PASSWORD/);
  });

  it.each([
    ['dev-*, however long', 'dev-0123456789abcdefghij'],
    ['admin', 'admin'],
    ['Admin (any case)', 'Admin'],
    ['change-me', 'change-me'],
    ['the old compose default change-me-issuer-key', 'change-me-issuer-key'],
    ['password', 'password'],
  ])('a known default (%s) is refused for each secret', (_what, value) => {
    for (const name of ['ADMIN_PASSWORD', 'ADMIN_OPERATOR_PASSWORD', 'TOKEN_ISSUER_API_KEY'] as const) {
      expect(refusal(production({ ...STRONG, [name]: value }))).toMatch(new RegExp(`${name}: is a known default`));
    }
    expect(refusal(production({ ...STRONG, API_KEYS: `acme:${value},globex:ak_0e1d2c3b4a596877` }))).toMatch(/API_KEYS: the key of tenant "acme" is a known default/);
  });

  it('a secret of 15 characters is refused, 16 is enough', () => {
    for (const name of ['ADMIN_PASSWORD', 'ADMIN_OPERATOR_PASSWORD', 'TOKEN_ISSUER_API_KEY'] as const) {
      expect(refusal(production({ ...STRONG, [name]: 'x7Gq2mR9vL4tW8z' }))).toMatch(new RegExp(`${name}: is shorter than 16 characters`));
      expect(() => loadConfig(production({ ...STRONG, [name]: 'x7Gq2mR9vL4tW8zK' }))).not.toThrow();
    }
    expect(refusal(production({ ...STRONG, API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60,globex:short-key' }))).toMatch(/API_KEYS: the key of tenant "globex" is shorter than 16 characters/);
  });

  it('every API key is checked, not just the first', () => {
    const message = refusal(production({ ...STRONG, API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60,acme:dev-key,globex:password' }));
    expect(message).toMatch(/tenant "acme" is a known default/);
    expect(message).toMatch(/tenant "globex" is a known default/);
  });

  it('DATA_ENCRYPTION_KEYS sealing with the development key is refused; listed after our own key (to rotate away from it) it is not', () => {
    const dev = `dev:${DEVELOPMENT_KEY.key.toString('base64')}`;
    expect(refusal(production({ ...STRONG, DATA_ENCRYPTION_KEYS: dev }))).toMatch(/DATA_ENCRYPTION_KEYS: seals with the public development key/);
    expect(loadConfig(production({ ...STRONG, DATA_ENCRYPTION_KEYS: `${dataKey('k2')},${dev}` })).DATA_ENCRYPTION_KEYS).toHaveLength(2);
  });

  it('ADMIN_OPERATOR_PASSWORD may be unset (then nobody can act on the queues)', () => {
    const { ADMIN_OPERATOR_PASSWORD: _unset, ...rest } = STRONG;
    expect(loadConfig(production(rest)).ADMIN_OPERATOR_PASSWORD).toBeUndefined();
  });

  it('the operator login must be another user than the admin login (the two grant different rights)', () => {
    expect(refusal({ ADMIN_OPERATOR_USER: 'admin', ADMIN_OPERATOR_PASSWORD: 'operator-Q7v!s9LmZp2x' })).toMatch(/ADMIN_OPERATOR_USER: must differ from ADMIN_USER/);
    expect(loadConfig({ ADMIN_OPERATOR_USER: 'admin' }).ADMIN_OPERATOR_PASSWORD).toBeUndefined();
  });

  it('accepts strong secrets', () => {
    const config = loadConfig(production(STRONG));
    expect(config.API_KEYS.get('ak_9f2c4e7a1b3d5f60')).toBe('acme');
    expect(config.ADMIN_OPERATOR_PASSWORD).toBe(STRONG.ADMIN_OPERATOR_PASSWORD);
  });

  it('a process checks only the secrets it uses', () => {
    const workerEnv = production({ TOKEN_ISSUER_API_KEY: STRONG.TOKEN_ISSUER_API_KEY, DATA_ENCRYPTION_KEYS: STRONG.DATA_ENCRYPTION_KEYS });
    expect(() => loadConfig(workerEnv, { uses: PROGRAM_SECRETS.worker })).not.toThrow();
    const gateway = refusal(workerEnv, { uses: PROGRAM_SECRETS.gateway });
    expect(gateway).toMatch(/API_KEYS/);
    expect(gateway).toMatch(/ADMIN_PASSWORD/);
    expect(gateway).not.toMatch(/TOKEN_ISSUER_API_KEY/);
  });

  it('never echoes a refused value (generated weak values)', () => {
    // A marker no message holds, so finding the value in a message means it was echoed.
    const text = (max: number) => fc.string({ maxLength: max }).filter((s) => !/[,:\s]/.test(s));
    const weak = fc.oneof(text(12).map((s) => `Zx9${s}`), text(30).map((s) => `dev-Zx9${s}`));
    fc.assert(
      fc.property(weak, fc.constantFrom('ADMIN_PASSWORD', 'ADMIN_OPERATOR_PASSWORD', 'TOKEN_ISSUER_API_KEY', 'API_KEYS'), (value, name) => {
        const env = production({ ...STRONG, [name]: name === 'API_KEYS' ? `acme:${value}` : value });
        const message = refusal(env);
        expect(message).toContain(name);
        expect(message).not.toContain(value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('outside production the defaults still work, with a warning per secret', () => {
  it('an empty environment loads, and the development defaults are listed by the same rules', () => {
    const config = loadConfig({});
    expect(developmentDefaults(config, {}, PROGRAM_SECRETS.start).map((n) => n.split(' ')[0])).toEqual(['API_KEYS', 'ADMIN_PASSWORD', 'TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS']);
    expect(developmentDefaults(config, {}, PROGRAM_SECRETS.worker).map((n) => n.split(' ')[0])).toEqual(['TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS']);
  });

  it('a weak value that is set is warned about without its value', () => {
    const env = { ADMIN_PASSWORD: 'hunter2' };
    const notes = developmentDefaults(loadConfig(env), env, PROGRAM_SECRETS.gateway);
    expect(notes).toContain('ADMIN_PASSWORD is shorter than 16 characters (refused when NODE_ENV=production)');
    expect(notes.join('\n')).not.toContain('hunter2');
  });

  it('strong secrets draw no warning', () => {
    expect(developmentDefaults(loadConfig(STRONG), STRONG, PROGRAM_SECRETS.start)).toEqual([]);
  });
});
