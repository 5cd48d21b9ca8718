import { createHash } from 'node:crypto';

/**
 * What makes two submissions under one Idempotency-Key the same request: their whole validated body,
 * with its defaults applied, as canonical JSON (keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}`
 * agree; money already in fen, so `"12.5"` and `12.50` agree). A field added to the body joins the hash
 * without anyone having to remember it. Hashes are `v2:<sha256 hex>`.
 */
export function requestHash(body: Record<string, unknown>): string {
  return `v2:${sha256(canonicalJson(body))}`;
}

/**
 * How a request was hashed before the whole body was (four named fields): a key used before that change
 * replays its task after it. Only a body that could have been sent then has one.
 */
export function legacyRequestHash(body: { theme: string; budget: number; voiceId: string; maxCompanies: number; maxAge?: number; webhookUrl?: string }): string | undefined {
  if (body.maxAge !== undefined || body.webhookUrl !== undefined) return undefined;
  return sha256(JSON.stringify([body.theme, body.budget, body.voiceId, body.maxCompanies]));
}

/** JSON with object keys sorted at every depth, and fields whose value is undefined left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
