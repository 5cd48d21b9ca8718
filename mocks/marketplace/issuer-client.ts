/**
 * The marketplace's client for the card-network token issuer: charges a token over HTTP as merchant
 * `marketplace`. Written against the issuer's public contract only.
 */

import { request, type Dispatcher } from 'undici';

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

/** One header's value (undici gives a repeated header as a list). */
function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * `POST {issuerUrl}/v1/tokens/{tokenId}/charges`, passing the idempotency key on. Never throws. Through
 * undici's pool for the issuer (keep-alive), each wait — for the answer, then between pieces of its body
 * — bounded by `timeoutMs`.
 */
export async function chargeToken(req: ChargeRequest): Promise<ChargeOutcome> {
  const url = `${req.issuerUrl.replace(/\/+$/, '')}/v1/tokens/${encodeURIComponent(req.tokenId)}/charges`;
  const timeoutMs = req.timeoutMs ?? 10_000;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      ...(req.dispatcher ? { dispatcher: req.dispatcher } : {}),
      method: 'POST',
      headers: {
        authorization: `Bearer ${req.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': req.idempotencyKey,
      },
      body: JSON.stringify({ amount: req.amount, merchantId: MERCHANT_ID, description: req.resource }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout' };
    return { kind: 'unreachable', message: e.code ?? e.message };
  }
  let body: unknown;
  try {
    body = await res.body.json();
  } catch (err) {
    if ((err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout' };
    return { kind: 'bad_response', message: `issuer answered ${res.statusCode} with a body that is not JSON` };
  }
  const status = res.statusCode;
  if (status >= 200 && status < 300) {
    const charge = body as Partial<IssuerCharge>;
    if (typeof charge?.id !== 'string' || typeof charge.amount !== 'string' || typeof charge.createdAt !== 'string') {
      return { kind: 'bad_response', message: 'issuer answered a charge without id, amount or createdAt' };
    }
    const replayed = status === 200 || header(res.headers['idempotent-replayed']) === 'true';
    return { kind: 'charged', charge: charge as IssuerCharge, replayed };
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } })?.error;
  const declined: ChargeOutcome = {
    kind: 'declined',
    status,
    code: typeof error?.code === 'string' ? error.code : 'issuer_error',
    message: typeof error?.message === 'string' ? error.message : `issuer answered ${status}`,
  };
  const retryAfter = header(res.headers['retry-after']);
  if (retryAfter) declined.retryAfter = retryAfter;
  return declined;
}
