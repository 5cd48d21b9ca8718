/**
 * Secrets in what we show and log. The payment token id is a spending credential (whoever holds it can
 * pay the marketplace with the user's budget), receipts are proofs of payment, keys are keys: none of
 * them appears in an API answer, job data, event, log line or error text.
 */

/**
 * Enough of a token id for finance to recognise it next to the issuer's statement, too little to spend
 * with: its prefix and its last two characters (`tok_…9e`).
 */
export function tokenHint(tokenId: string): string {
  const prefix = /^[A-Za-z]{1,8}_/.exec(tokenId)?.[0] ?? '';
  return `${prefix}…${tokenId.slice(-2)}`;
}

/** What the logger masks wherever it appears in a logged object (pino `redact` paths). */
export const REDACTED_LOG_PATHS: string[] = [
  'tokenId',
  'token_id',
  'receipt',
  'apiKey',
  'password',
  'authorization',
  'headers.authorization',
  'headers["x-payment-receipt"]',
  'req.headers.authorization',
  'req.headers["x-payment-receipt"]',
].flatMap((path) => [path, `*.${path}`]);

/**
 * The user-info part of every URL in `text`, masked: `redis://:pw@host` → `redis://:***@host`,
 * `postgres://arp:pw@db/arp` → `postgres://arp:***@db/arp`, and a lone user name (often a token,
 * `https://ghp_x@host`) → `https://***@host`. Hosts, ports and paths stay, so the line still says
 * where. Authority ends at the first `/`, `?` or `#`; its last `@` ends the user info.
 */
export function maskUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

/**
 * A copy of a log argument with URL credentials masked in every string it holds (objects and arrays
 * to a few levels; an Error is copied with its message, stack and fields masked). What the logger applies to every
 * line, so no call site has to remember.
 */
export function maskLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // A copy of the same class (the logger names its type), message, stack and own fields masked.
    const copy = Object.create(Object.getPrototypeOf(value)) as Error;
    for (const [k, v] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[k] = maskLogValue(v, depth + 1);
    for (const k of ['message', 'stack'] as const) {
      if (typeof value[k] === 'string') Object.defineProperty(copy, k, { value: maskUrlCredentials(value[k]), writable: true, configurable: true });
    }
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => maskLogValue(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskLogValue(v, depth + 1)]));
}
