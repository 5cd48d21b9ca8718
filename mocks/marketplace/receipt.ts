import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Payment receipts: `base64url(payload).base64url(HMAC-SHA256(secret, base64url(payload)))`.
 * The payload binds the receipt to a resource, an amount and the issuer's charge, and says when it expires.
 * A receipt is derived only from the charge, so paying again with the same idempotency key (the issuer replays
 * the same charge) yields the same receipt, even after the marketplace restarted.
 */

/** How long a receipt may be used: 24 hours from the charge. */
export const RECEIPT_TTL_MS = 24 * 60 * 60 * 1000;

/** What a receipt asserts. */
export interface ReceiptClaims {
  readonly v: 1;
  readonly resource: string;
  /** Decimal string with two places. */
  readonly amount: string;
  readonly currency: string;
  readonly chargeId: string;
  /** ISO time after which the receipt is no longer accepted. */
  readonly expiresAt: string;
}

/** Why a receipt was refused. */
export type ReceiptProblem = 'malformed' | 'bad_signature' | 'expired' | 'wrong_resource' | 'wrong_amount';

function mac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

/** Signs claims into a receipt string. */
export function signReceipt(secret: string, claims: ReceiptClaims): string {
  const payload = Buffer.from(
    JSON.stringify({
      v: claims.v,
      resource: claims.resource,
      amount: claims.amount,
      currency: claims.currency,
      chargeId: claims.chargeId,
      expiresAt: claims.expiresAt,
    }),
  ).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** The public id of the receipt for a charge: `rcpt_` and 24 hex digits derived from the charge id. */
export function receiptIdFor(chargeId: string): string {
  return `rcpt_${createHash('sha256').update(`receipt:${chargeId}`).digest('hex').slice(0, 24)}`;
}

/** Verifies the signature and shape of a receipt; does not look at expiry or binding. */
export function readReceipt(secret: string, receipt: string): { ok: true; claims: ReceiptClaims } | { ok: false; problem: ReceiptProblem } {
  const parts = receipt.trim().split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { ok: false, problem: 'malformed' };
  const [payload, signature] = parts as [string, string];
  const expected = mac(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'bad_signature' };
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<ReceiptClaims>;
    if (
      claims.v !== 1 ||
      typeof claims.resource !== 'string' ||
      typeof claims.amount !== 'string' ||
      typeof claims.currency !== 'string' ||
      typeof claims.chargeId !== 'string' ||
      typeof claims.expiresAt !== 'string' ||
      Number.isNaN(Date.parse(claims.expiresAt))
    ) {
      return { ok: false, problem: 'malformed' };
    }
    return { ok: true, claims: claims as ReceiptClaims };
  } catch {
    return { ok: false, problem: 'malformed' };
  }
}

/**
 * Checks that a receipt is genuine, unexpired at `now` (ms), and bound to this resource and amount.
 */
export function checkReceipt(
  secret: string,
  receipt: string,
  expected: { resource: string; amount: string; now: number },
): { ok: true; claims: ReceiptClaims } | { ok: false; problem: ReceiptProblem } {
  const read = readReceipt(secret, receipt);
  if (!read.ok) return read;
  const { claims } = read;
  if (claims.resource !== expected.resource) return { ok: false, problem: 'wrong_resource' };
  if (claims.amount !== expected.amount) return { ok: false, problem: 'wrong_amount' };
  if (expected.now > Date.parse(claims.expiresAt)) return { ok: false, problem: 'expired' };
  return { ok: true, claims };
}
