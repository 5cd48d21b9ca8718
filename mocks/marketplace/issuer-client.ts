/**
 * The marketplace's client for the card-network token issuer: charges a token over HTTP as merchant
 * `marketplace`. Written against the issuer's public contract only.
 */

import { fetch, type Dispatcher } from 'undici';

/** The merchant id the marketplace charges as. */
export const MERCHANT_ID = 'marketplace';

/** A charge as the issuer returns it (only the fields the marketplace reads). */
export interface IssuerCharge {
  id: string;
  amount: string;
  description?: string | null;
  createdAt: string;
}

/** The outcome of a charge attempt. */
export type ChargeOutcome =
  | { kind: 'charged'; charge: IssuerCharge; replayed: boolean }
  | { kind: 'declined'; status: number; code: string; message: string; retryAfter?: string }
  | { kind: 'unreachable'; message: string }
  | { kind: 'timeout' }
  | { kind: 'bad_response'; message: string };

/** What a charge request needs. */
export interface ChargeRequest {
  issuerUrl: string;
  apiKey: string;
  tokenId: string;
  /** Decimal string with two places. */
  amount: string;
  resource: string;
  idempotencyKey: string;
  timeoutMs?: number;
  /** Connection pool (mutual TLS to the issuer); the default one when absent. */
  dispatcher?: Dispatcher;
}

/** `POST {issuerUrl}/v1/tokens/{tokenId}/charges`, passing the idempotency key on. Never throws. */
export async function chargeToken(req: ChargeRequest): Promise<ChargeOutcome> {
  const url = `${req.issuerUrl.replace(/\/+$/, '')}/v1/tokens/${encodeURIComponent(req.tokenId)}/charges`;
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(url, {
      ...(req.dispatcher ? { dispatcher: req.dispatcher } : {}),
      method: 'POST',
      headers: {
        authorization: `Bearer ${req.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': req.idempotencyKey,
      },
      body: JSON.stringify({ amount: req.amount, merchantId: MERCHANT_ID, description: req.resource }),
      signal: AbortSignal.timeout(req.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return { kind: 'timeout' };
    return { kind: 'unreachable', message: e.message };
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { kind: 'bad_response', message: `issuer answered ${res.status} with a body that is not JSON` };
  }
  if (res.ok) {
    const charge = body as Partial<IssuerCharge>;
    if (typeof charge?.id !== 'string' || typeof charge.amount !== 'string' || typeof charge.createdAt !== 'string') {
      return { kind: 'bad_response', message: 'issuer answered a charge without id, amount or createdAt' };
    }
    const replayed = res.status === 200 || res.headers.get('idempotent-replayed') === 'true';
    return { kind: 'charged', charge: charge as IssuerCharge, replayed };
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } })?.error;
  const declined: ChargeOutcome = {
    kind: 'declined',
    status: res.status,
    code: typeof error?.code === 'string' ? error.code : 'issuer_error',
    message: typeof error?.message === 'string' ? error.message : `issuer answered ${res.status}`,
  };
  const retryAfter = res.headers.get('retry-after');
  if (retryAfter) declined.retryAfter = retryAfter;
  return declined;
}
