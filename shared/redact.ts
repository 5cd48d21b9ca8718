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
