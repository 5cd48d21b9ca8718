/**
 * Size limits on what a provider sends us. A record is the provider's to fill, and a hostile one could
 * fill a report (or our database) with megabytes; longer text is cut, and what was cut is noted on the
 * stored record itself under {@link TRUNCATED_KEY}, so the report can say so.
 */
export const PROVIDER_LIMITS = {
  /** Characters of a name (any `name` field, and any key). */
  name: 200,
  /** Characters of any other text field. */
  field: 2_000,
  /** Bytes of a whole record, as JSON (UTF-8). */
  recordBytes: 64 * 1024,
  /** Entries of the note; more are counted, not listed. */
  notes: 20,
  /**
   * Bytes of a whole answer as it arrives, before anything is parsed (the largest we expect is a search's
   * result list, well under 100 KiB): past it, the exchange stops reading, closes the connection, and the
   * answer counts as one without a body (shared/providers/exchange.ts), so no provider can make us hold more.
   */
  answerBytes: 2 * 1024 * 1024,
  /**
   * Bytes of the issuer's whole book (`GET /v1/tokens` with no reference: every token with its charges),
   * which only the audit reads. It grows with history and the contract has no pages, so it has a limit of
   * its own: at ~700 bytes a token of three charges, about 380,000 tokens. Past it the audit stops and says
   * so; it never reconciles against part of the book.
   */
  listingBytes: 256 * 1024 * 1024,
} as const;

/**
 * The key of our note on a stored record: the paths of the values that were cut or left out. A key of
 * that name sent by the provider is dropped, so the note is always ours.
 */
export const TRUNCATED_KEY = '_truncated';

export interface CappedRecord {
  record: Record<string, unknown>;
  /** What was cut (`name`, `contacts.address`, `riskNotes[2]`) or left out; empty when nothing was. */
  truncated: string[];
}

/** Cuts text to `limit` characters (code points, so no surrogate pair is split), the last being `…`. */
function cut(text: string, limit: number): string | undefined {
  if (text.length <= limit) return undefined;
  const points = Array.from(text);
  return points.length <= limit ? undefined : `${points.slice(0, limit - 1).join('')}…`;
}

function capValue(value: unknown, key: string | undefined, path: string, notes: string[]): unknown {
  if (typeof value === 'string') {
    const shorter = cut(value, key === 'name' ? PROVIDER_LIMITS.name : PROVIDER_LIMITS.field);
    if (shorter === undefined) return value;
    notes.push(path);
    return shorter;
  }
  if (Array.isArray(value)) return value.map((v, i) => capValue(v, undefined, `${path}[${i}]`, notes));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const name = capKey(k, path, notes);
      put(out, name, capValue(v, k, `${path}.${name}`, notes));
    }
    return out;
  }
  return value;
}

function capKey(key: string, path: string, notes: string[]): string {
  const shorter = cut(key, PROVIDER_LIMITS.name);
  if (shorter === undefined) return key;
  notes.push(`${path ? `${path}.` : ''}${shorter} (name of the field)`);
  return shorter;
}

/**
 * Sets an own property, also for `__proto__`, which plain assignment would not store (it would set the
 * prototype); every other key of a plain object is stored as an own property by assignment, which is cheap.
 */
function put(target: Record<string, unknown>, key: string, value: unknown) {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '');

/**
 * Caps a provider's record: every string to {@link PROVIDER_LIMITS} (names 200 characters, other text
 * 2,000), then the whole record to 64 KiB. When it is still larger, whole top-level fields are left out,
 * largest first (the `keepFirst` fields are kept before any other), so the small fields that say what
 * the record is survive a bloated one. What was cut or left out is listed under {@link TRUNCATED_KEY}.
 */
export function capRecord(input: Record<string, unknown>, opts: { keepFirst?: readonly string[] } = {}): CappedRecord {
  const notes: string[] = [];
  let entries = Object.entries(input)
    .filter(([k]) => k !== TRUNCATED_KEY)
    .map(([k, v], index) => {
      const key = capKey(k, '', notes);
      const value = capValue(v, k, key, notes);
      return { key, value, index, size: bytes(key) + 1 + bytes(value) };
    });
  const total = 2 + entries.reduce((s, e) => s + e.size, 0) + Math.max(0, entries.length - 1);
  if (total > PROVIDER_LIMITS.recordBytes) {
    const rank = (k: string) => (opts.keepFirst?.includes(k) ? 0 : 1);
    const order = [...entries].sort((a, b) => rank(a.key) - rank(b.key) || a.size - b.size || a.index - b.index);
    const kept = new Set<(typeof entries)[number]>();
    let size = 2;
    for (const e of order) {
      const grown = size + e.size + (kept.size ? 1 : 0);
      if (grown <= PROVIDER_LIMITS.recordBytes) {
        kept.add(e);
        size = grown;
      } else notes.push(`${e.key} (left out: the record is over 64 KiB)`);
    }
    entries = entries.filter((e) => kept.has(e));
  }
  const record: Record<string, unknown> = {};
  for (const e of entries) put(record, e.key, e.value);
  const listed = notes.slice(0, PROVIDER_LIMITS.notes).map((n) => cut(n, PROVIDER_LIMITS.name) ?? n);
  const truncated = notes.length > listed.length ? [...listed, `and ${notes.length - listed.length} more`] : listed;
  if (truncated.length) record[TRUNCATED_KEY] = truncated;
  return { record, truncated };
}

/** The note {@link capRecord} left on a stored record (empty when there is none). */
export function truncationNote(record: unknown): string[] {
  const note = record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[TRUNCATED_KEY] : undefined;
  return Array.isArray(note) ? note.filter((n): n is string => typeof n === 'string') : [];
}
