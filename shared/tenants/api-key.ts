import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys made by the gateway (issue 8): `arp_` and 48 hex digits (192 random bits). The prefix makes
 * a leaked key recognisable (to secret scanners, in a log someone pasted); hex keeps it one word for a
 * double-click and free of characters a shell or a header would mangle.
 */
export const API_KEY_PREFIX = 'arp_';

/** A new key's parts: the key (shown once), its digest (kept) and a hint to tell keys apart. */
export interface NewApiKey {
  id: string;
  key: string;
  digest: string;
  hint: string;
}

/** Hex SHA-256 of a key: how keys are stored and looked up. A high-entropy key needs no slow hash. */
export function keyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Enough of a key to tell it from another in a list, too little to use: `arp_…9f3c`. */
export function keyHint(key: string): string {
  return `${API_KEY_PREFIX}…${key.slice(-4)}`;
}

/** Makes a key and its id (`key_` and 16 hex digits; an id is not a secret). */
export function newApiKey(): NewApiKey {
  const key = `${API_KEY_PREFIX}${randomBytes(24).toString('hex')}`;
  return { id: `key_${randomBytes(8).toString('hex')}`, key, digest: keyDigest(key), hint: keyHint(key) };
}
