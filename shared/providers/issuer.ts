import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { TransientError } from '../errors.ts';
import { parseMoney, type Fen } from '../money.ts';
import { failure, refuseOverLimit, request, type HttpAnswer } from './http.ts';
import { PROVIDER_LIMITS } from './limits.ts';

const amount = z.union([z.string(), z.number()]).transform((v) => parseMoney(v));

const charge = z.object({
  id: z.string(),
  amount,
  merchantId: z.string(),
  description: z.string().nullish(),
  idempotencyKey: z.string().nullish(),
  refundedAmount: amount.default(0),
  createdAt: z.string().optional(),
});

const token = z.object({
  id: z.string().min(1),
  limit: amount,
  balance: amount,
  spent: amount,
  currency: z.string(),
  merchantId: z.string(),
  reference: z.string(),
  status: z.enum(['active', 'closed', 'expired']),
  expiresAt: z.string(),
  charges: z.array(charge).default([]),
});

const refund = z.object({ id: z.string().min(1), chargeId: z.string(), amount });

/** The issuer's view of a token; money in fen. */
export type IssuerToken = z.infer<typeof token>;
export type IssuerCharge = z.infer<typeof charge>;
export type IssuerRefund = z.infer<typeof refund>;

function errorCode(body: any): string | undefined {
  return typeof body?.error?.code === 'string' ? body.error.code : undefined;
}

/** The card-network token issuer (DESIGN.md §4): budget-limited tokens, charges, refunds, audits. */
export class IssuerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly timeoutMs: number,
    private readonly dispatcher?: Dispatcher,
  ) {}

  /** Creates (or, with the same idempotency key, finds again) the task's budget-limited token. */
  async createToken(
    input: { amount: string; merchantId: string; reference: string; voiceVerification?: unknown; expiresInSeconds?: number },
    idempotencyKey: string,
    signal?: AbortSignal,
  ): Promise<IssuerToken> {
    const answer = await this.call('POST /v1/tokens', '/v1/tokens', { json: { currency: 'CNY', ...input }, idempotencyKey, signal });
    return this.parse(answer, token, [200, 201], 'issuer create token');
  }

  async getToken(id: string, signal?: AbortSignal): Promise<IssuerToken> {
    const answer = await this.call('GET /v1/tokens/:id', `/v1/tokens/${encodeURIComponent(id)}`, { signal });
    return this.parse(answer, token, [200], 'issuer get token');
  }

  /** Every token the issuer holds for one reference (our task id): the issuer's own books, for audits. */
  async tokensFor(reference: string, signal?: AbortSignal): Promise<IssuerToken[]> {
    const answer = await this.call('GET /v1/tokens?reference=', `/v1/tokens?reference=${encodeURIComponent(reference)}`, { signal });
    return this.parse(answer, z.object({ data: z.array(token) }), [200], 'issuer list tokens').data;
  }

  /** Every token the issuer holds (all references): the whole book, read up to PROVIDER_LIMITS.listingBytes. */
  async allTokens(signal?: AbortSignal): Promise<IssuerToken[]> {
    const answer = await this.call('GET /v1/tokens', '/v1/tokens', { signal, maxBytes: PROVIDER_LIMITS.listingBytes });
    return this.parse(answer, z.object({ data: z.array(token) }), [200], 'issuer list tokens').data;
  }

  /** Refunds part or all of a charge; the idempotency key makes a retry return the same refund. */
  async refund(chargeId: string, amountText: string | undefined, idempotencyKey: string, signal?: AbortSignal): Promise<IssuerRefund> {
    const answer = await this.call('POST /v1/charges/:id/refunds', `/v1/charges/${encodeURIComponent(chargeId)}/refunds`, {
      json: amountText === undefined ? {} : { amount: amountText },
      idempotencyKey,
      signal,
    });
    return this.parse(answer, refund, [200, 201], 'issuer refund');
  }

  /** Closes the token: no charge can follow, the unused balance is released. Safe to repeat. No body (the contract has none). */
  async close(id: string, signal?: AbortSignal): Promise<void> {
    const answer = await this.call('POST /v1/tokens/:id/close', `/v1/tokens/${encodeURIComponent(id)}/close`, { signal });
    if (answer.status !== 200) throw failure(answer, errorCode(answer.body), 'issuer close token');
  }

  /** One call; `route` is its template (`POST /v1/tokens/:id/close`), which errors name instead of the path. */
  private call(route: `${'GET' | 'POST'} /${string}`, path: string, opts: { json?: unknown; idempotencyKey?: string; signal?: AbortSignal; maxBytes?: number }): Promise<HttpAnswer> {
    return request(`${this.baseUrl}${path}`, {
      provider: 'issuer',
      route: `issuer ${route}`,
      method: route.startsWith('POST') ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${this.apiKey}`, ...(opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {}) },
      json: opts.json,
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      signal: opts.signal,
      maxBytes: opts.maxBytes,
    });
  }

  private parse<T extends z.ZodType>(answer: HttpAnswer, schema: T, ok: number[], what: string): z.infer<T> {
    if (!ok.includes(answer.status)) throw failure(answer, errorCode(answer.body), what);
    refuseOverLimit(answer, what);
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success) throw new TransientError('bad_response', `${what} returned an unexpected body`);
    return parsed.data;
  }
}
