import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** One data-encryption key: its id (stored with every value it seals) and 32 bytes of key. */
export interface DataKey {
  id: string;
  key: Buffer;
}

/** Sealed values start with this; anything else was written before encryption existed. */
const PREFIX = 'enc1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * The development key: fixed, so split processes on one machine agree without configuration, and
 * useless as a secret — production refuses to start without DATA_ENCRYPTION_KEYS.
 */
export const DEVELOPMENT_KEY: DataKey = { id: 'dev', key: createHash('sha256').update('agent-research-pay development data key').digest() };

/** Raised when a sealed value cannot be opened; the message never quotes the value. */
export class SealError extends Error {}

/**
 * Encryption at rest for the secrets we must keep (payment token ids, receipts): AES-256-GCM with a
 * random nonce, the key id stored with each value so keys can rotate, and a context (which column of
 * which row) bound in as associated data, so a sealed value copied to another row does not open.
 * The first key seals; every listed key opens.
 */
export class Keyring {
  private readonly byId: Map<string, Buffer>;

  constructor(readonly keys: readonly DataKey[]) {
    if (keys.length === 0) throw new Error('a keyring needs at least one key');
    for (const k of keys) {
      if (!KEY_ID.test(k.id)) throw new Error(`key id "${k.id}" must be 1–32 letters, digits, _ or -`);
      if (k.key.length !== 32) throw new Error(`key "${k.id}" must be 32 bytes`);
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    if (this.byId.size !== keys.length) throw new Error('a key id is listed twice');
  }

  /** The id of the key that seals. */
  get currentId(): string {
    return this.keys[0]!.id;
  }

  /** Whether only the development key is configured. */
  get isDevelopment(): boolean {
    return this.keys.length === 1 && this.keys[0]!.key.equals(DEVELOPMENT_KEY.key);
  }

  /** Seals `plaintext` for `context` (e.g. `task-token:<task id>`): `enc1.<key id>.<nonce>.<ciphertext+tag>`. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0]!.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [PREFIX, this.currentId, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  /**
   * Opens a value sealed for `context`. A value without the prefix was stored before encryption
   * existed and is returned as it is (`npm run rotate-keys` seals those).
   */
  open(value: string, context: string): string {
    if (!isSealed(value)) return value;
    const [, keyId, ivText, bodyText] = value.split('.');
    const key = this.byId.get(keyId!);
    if (!key) throw new SealError(`a value is sealed with key "${keyId}", which DATA_ENCRYPTION_KEYS does not list`);
    const iv = Buffer.from(ivText ?? '', 'base64url');
    const body = Buffer.from(bodyText ?? '', 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SealError('a sealed value is malformed');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealError(`a sealed value does not open with key "${keyId}" (altered, or sealed for another row)`);
    }
  }

  /** Whether a stored value should be sealed again: plaintext, or sealed with a key other than the first. */
  needsRotation(value: string): boolean {
    return !isSealed(value) || value.split('.')[1] !== this.currentId;
  }
}

/** Whether a stored value is sealed (rather than plaintext from before encryption existed). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${PREFIX}.`) && value.split('.').length === 4;
}

/**
 * Parses `DATA_ENCRYPTION_KEYS`: `<id>:<base64 of 32 bytes>[,<id>:<key>…]`. Errors name the entry by
 * its position and id, never its key material.
 */
export function parseDataKeys(raw: string): DataKey[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('lists no key');
  const keys = entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1} is not <id>:<base64 key> with an id of 1–32 letters, digits, _ or -`);
    const text = entry.slice(colon + 1);
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length !== 32) throw new Error(`key "${id}" must be 32 bytes, base64-encoded (e.g. \`openssl rand -base64 32\`)`);
    return { id, key };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('a key id is listed twice');
  return keys;
}

/** The keyring of a configuration: its DATA_ENCRYPTION_KEYS, else the development key. */
export function keyringFrom(keys: readonly DataKey[] | undefined): Keyring {
  return new Keyring(keys?.length ? keys : [DEVELOPMENT_KEY]);
}
