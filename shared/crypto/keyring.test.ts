import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { DEVELOPMENT_KEY, isSealed, Keyring, keyringFrom, parseDataKeys, SealError } from './keyring.ts';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (k: { id: string; key: Buffer }) => `${k.id}:${k.key.toString('base64')}`;

describe('Keyring: AES-256-GCM at rest', () => {
  const a = key('a');
  const ring = new Keyring([a]);

  it('seals and opens, with a fresh nonce each time and nothing of the plaintext in the sealed value', () => {
    const one = ring.seal('tok_secret_42', 'tasks.token_id:t1');
    const two = ring.seal('tok_secret_42', 'tasks.token_id:t1');
    expect(one).not.toBe(two);
    expect(one).toMatch(/^enc1\.a\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(one).not.toContain('secret');
    expect(isSealed(one)).toBe(true);
    expect(ring.open(one, 'tasks.token_id:t1')).toBe('tok_secret_42');
    expect(ring.open(two, 'tasks.token_id:t1')).toBe('tok_secret_42');
  });

  it('does not open a value copied to another row, or altered in any character', () => {
    const sealed = ring.seal('tok_secret_42', 'tasks.token_id:t1');
    expect(() => ring.open(sealed, 'tasks.token_id:t2')).toThrow(SealError);
    const parts = sealed.split('.');
    for (const i of [2, 3]) {
      const altered = [...parts];
      const chars = [...altered[i]!];
      chars[5] = chars[5] === 'A' ? 'B' : 'A';
      altered[i] = chars.join('');
      expect(() => ring.open(altered.join('.'), 'tasks.token_id:t1')).toThrow(SealError);
    }
  });

  it('rotates: the first key seals, every listed key opens, and an unlisted key is named, not guessed', () => {
    const b = key('b');
    const old = ring.seal('rcpt-1', 'payments.receipt:7');
    const rotated = new Keyring([b, a]);
    expect(rotated.open(old, 'payments.receipt:7')).toBe('rcpt-1');
    expect(rotated.needsRotation(old)).toBe(true);
    const fresh = rotated.seal('rcpt-1', 'payments.receipt:7');
    expect(fresh.startsWith('enc1.b.')).toBe(true);
    expect(rotated.needsRotation(fresh)).toBe(false);
    expect(() => new Keyring([b]).open(old, 'payments.receipt:7')).toThrow(/key "a", which DATA_ENCRYPTION_KEYS does not list/);
  });

  it('reads plaintext from before encryption as it is, and marks it for rotation', () => {
    expect(ring.open('tok_legacy', 'tasks.token_id:t1')).toBe('tok_legacy');
    expect(ring.needsRotation('tok_legacy')).toBe(true);
  });

  it('without configured keys uses the development key, which split processes share', () => {
    const dev = keyringFrom(undefined);
    expect(dev.isDevelopment).toBe(true);
    expect(keyringFrom(undefined).open(dev.seal('x', 'c'), 'c')).toBe('x');
    expect(keyringFrom([a]).isDevelopment).toBe(false);
    expect(DEVELOPMENT_KEY.key).toHaveLength(32);
  });
});

describe('DATA_ENCRYPTION_KEYS', () => {
  it('parses <id>:<base64 of 32 bytes>, the first one sealing', () => {
    const [a, b] = [key('k2026'), key('k2025')];
    const keys = parseDataKeys(`${text(a)}, ${text(b)}`);
    expect(keys.map((k) => k.id)).toEqual(['k2026', 'k2025']);
    expect(keys[0]!.key.equals(a.key)).toBe(true);
  });

  it.each([
    ['a key of the wrong length', `a:${randomBytes(16).toString('base64')}`, /32 bytes/],
    ['no id', `${randomBytes(32).toString('base64')}`, /entry 1/],
    ['a bad id', `a b:${randomBytes(32).toString('base64')}`, /entry 1/],
    ['an id twice', `a:${randomBytes(32).toString('base64')},a:${randomBytes(32).toString('base64')}`, /twice/],
    ['not base64', `a:${'!'.repeat(44)}`, /base64/],
  ])('refuses %s, naming the variable and never the key material', (_what, raw, pattern) => {
    let message = '';
    try {
      loadConfig({ DATA_ENCRYPTION_KEYS: raw });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DATA_ENCRYPTION_KEYS/);
    expect(message).toMatch(pattern);
    for (const part of raw.split(/[,:]/)) if (part.length > 8) expect(message).not.toContain(part);
  });

  it('is required in production; in development an unset value means the development key', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }, { uses: ['books'] })).toThrow(/DATA_ENCRYPTION_KEYS: is unset; production needs keys of your own/);
    expect(loadConfig({ NODE_ENV: 'production', DATA_ENCRYPTION_KEYS: text(key('p')) }, { uses: ['books'] }).DATA_ENCRYPTION_KEYS).toHaveLength(1);
    expect(loadConfig({}).DATA_ENCRYPTION_KEYS).toBeUndefined();
  });
});
