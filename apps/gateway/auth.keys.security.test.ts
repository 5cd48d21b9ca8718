import * as crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newApiKey } from '../../shared/tenants/api-key.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { KEY_CACHE_MS } from './auth.ts';

// Every constant-time comparison the gateway makes, recorded (the real one still decides).
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

/**
 * API keys are looked up by their SHA-256 digest and compared in constant time (issue 7, item 5).
 * Before, a presented key was compared with each configured key only when the lengths matched, and
 * the scan stopped at the first match: how long the check took told an attacker a key's length and
 * where it stood in the list. Now every presented key — any length, right or wrong, first or last —
 * costs one comparison of two 32-byte digests.
 */
describe('API keys: one constant-time comparison of digests, whatever is presented', () => {
  let h: Harness;
  const keys = ['k-first-0123456789', 'k-middle-0123456789abcdef', 'k-last-0123456789abcdefghijklmnop'];

  beforeAll(async () => {
    h = await openHarness({ env: { API_KEYS: keys.map((k, i) => `t${i}:${k}`).join(',') } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const compare = vi.mocked(crypto.timingSafeEqual);

  /** The comparisons one request made: the byte lengths of both sides of each. */
  async function comparisons(key: string): Promise<{ status: number; sizes: Array<[number, number]> }> {
    compare.mockClear();
    const res = await h.app.request('/v1/usage', { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, sizes: compare.mock.calls.map(([a, b]) => [(a as Buffer).length, (b as Buffer).length]) };
  }

  it.each([
    ['the first key', keys[0]!, 200],
    ['the middle key', keys[1]!, 200],
    ['the last key', keys[2]!, 200],
    ['a wrong key as long as the first', 'x'.repeat(keys[0]!.length), 401],
    ['a wrong key as long as the last', 'x'.repeat(keys[2]!.length), 401],
    ['a one-character key', 'x', 401],
    ['a 4 KiB key', 'x'.repeat(4096), 401],
    ['the first key but its last character', `${keys[0]!.slice(0, -1)}!`, 401],
  ])('%s: exactly one comparison, of two 32-byte digests', async (_what, key, status) => {
    const seen = await comparisons(key);
    expect(seen.status).toBe(status);
    expect(seen.sizes).toEqual([[32, 32]]);
  });
});

describe('stored keys (made through the admin API) go through the same one comparison', () => {
  let h: Harness;
  const who = { actor: 'operator', role: 'operator', address: null, userAgent: null };

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const compare = vi.mocked(crypto.timingSafeEqual);

  it('a stored key, the same key revoked, and a key in the stored format that was never made: one comparison of two 32-byte digests each', async () => {
    const made = newApiKey();
    await h.repos.apiKeys.create('stored', 'k', made, who);
    const check = async (key: string, status: number) => {
      compare.mockClear();
      const res = await h.app.request('/v1/usage', { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(status);
      expect(compare.mock.calls.map(([a, b]) => [(a as Buffer).length, (b as Buffer).length])).toEqual([[32, 32]]);
    };
    await check(made.key, 200);
    await check(made.key, 200); // from the cache
    await check(newApiKey().key, 401);
    await h.repos.apiKeys.revoke('stored', made.id, who);
    await new Promise((r) => setTimeout(r, KEY_CACHE_MS + 50));
    await check(made.key, 401);
  });
});
