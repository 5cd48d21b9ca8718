import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { PermanentError, TransientError } from '../errors.ts';
import { parseMoney, type Fen } from '../money.ts';
import { failure, refuseOverLimit, request, type HttpAnswer } from './http.ts';
import { capRecord } from './limits.ts';

const price = z.object({ amount: z.union([z.string(), z.number()]), currency: z.string() });

const basicList = z.object({
  data: z.array(
    z.object({
      type: z.literal('company_basic'),
      id: z.string().min(1),
      attributes: z.looseObject({
        name: z.string(),
        industry: z.string(),
        city: z.string().default(''),
        tags: z.array(z.string()).default([]),
        price,
      }),
    }),
  ),
});

const paymentRequired = z.object({
  meta: z.object({ price, resource: z.string().min(1), pay: z.object({ method: z.string(), href: z.string() }) }),
});

const receiptBody = z.object({
  data: z.object({
    type: z.literal('payment_receipt'),
    id: z.string().min(1),
    attributes: z.object({ receipt: z.string().min(1), amount: z.union([z.string(), z.number()]), resource: z.string(), chargeId: z.string().min(1), expiresAt: z.string().optional() }),
  }),
});

const detailBody = z.object({
  data: z.object({ type: z.literal('company_detail'), id: z.string().min(1), attributes: z.record(z.string(), z.unknown()) }),
});

/**
 * A company from the free search; price in fen. Its text is capped (limits.ts): `attributes` carries the
 * note of what was cut.
 */
export interface BasicCompany {
  id: string;
  name: string;
  industry: string;
  city: string;
  tags: string[];
  price: Fen;
  attributes: Record<string, unknown>;
}

/** The fields a search result needs: kept before any other when a record is over its size limit. */
const BASIC_FIELDS = ['name', 'industry', 'city', 'tags', 'price'];

export type DetailProbe = { kind: 'payment_required'; price: Fen; resource: string } | { kind: 'free'; detail: Record<string, unknown> };

export interface Receipt {
  receiptId: string;
  receipt: string;
  chargeId: string;
  amount: Fen;
  /** The resource the receipt says it pays for. */
  resource: string;
  /** When the marketplace stops accepting the receipt, if it said. */
  expiresAt?: Date;
}

function errorCode(body: any): string | undefined {
  return typeof body?.errors?.[0]?.code === 'string' ? body.errors[0].code : undefined;
}

function money(p: z.infer<typeof price>, what: string): Fen {
  if (p.currency !== 'CNY') throw new PermanentError('unsupported_currency', `${what} is priced in ${p.currency}`);
  return parseMoney(p.amount);
}

/** The company-data marketplace (DESIGN.md §4): free search, 402-paywalled detail, POST /pay. */
export class MarketplaceClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly dispatcher?: Dispatcher,
  ) {}

  /** Free keyword search. */
  async search(keyword: string, signal?: AbortSignal): Promise<BasicCompany[]> {
    const url = `${this.baseUrl}/company/basic?keyword=${encodeURIComponent(keyword)}`;
    const answer = await request(url, { provider: 'marketplace', route: 'marketplace GET /company/basic', timeoutMs: this.timeoutMs, dispatcher: this.dispatcher, signal });
    if (answer.status !== 200) throw failure(answer, errorCode(answer.body), 'marketplace search');
    refuseOverLimit(answer, 'marketplace search');
    const parsed = basicList.safeParse(answer.body);
    if (!parsed.success) throw new TransientError('bad_response', `marketplace search returned an unexpected body: ${parsed.error.message}`);
    return parsed.data.data.map((d) => {
      const { record } = capRecord(d.attributes, { keepFirst: BASIC_FIELDS });
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      return {
        id: d.id,
        name: text(record.name),
        industry: text(record.industry),
        city: text(record.city),
        tags: Array.isArray(record.tags) ? record.tags.filter((t): t is string => typeof t === 'string') : [],
        price: money(d.attributes.price, d.id),
        attributes: record,
      };
    });
  }

  /** Asks for a detail record without proof: the 402 tells the price and the resource to pay for. */
  async probe(companyId: string, signal?: AbortSignal): Promise<DetailProbe> {
    const answer = await request(this.detailUrl(companyId), { provider: 'marketplace', route: 'marketplace GET /company/detail', expect: [402], timeoutMs: this.timeoutMs, dispatcher: this.dispatcher, signal });
    if (answer.status === 402) {
      refuseOverLimit(answer, `marketplace 402 for ${companyId}`);
      const parsed = paymentRequired.safeParse(answer.body);
      if (!parsed.success) throw new TransientError('bad_response', `marketplace 402 for ${companyId} is malformed`);
      return { kind: 'payment_required', price: money(parsed.data.meta.price, companyId), resource: parsed.data.meta.resource };
    }
    if (answer.status === 200) return { kind: 'free', detail: this.parseDetail(answer, companyId) };
    throw failure(answer, errorCode(answer.body), `marketplace detail ${companyId}`);
  }

  /**
   * Pays for a resource with the task's token. The idempotency key makes a retry return the first
   * payment's receipt instead of paying again.
   */
  async pay(input: { tokenId: string; amount: string; resource: string; idempotencyKey: string }, signal?: AbortSignal): Promise<Receipt> {
    const answer = await request(`${this.baseUrl}/pay`, {
      provider: 'marketplace',
      route: 'marketplace POST /pay',
      method: 'POST',
      headers: { 'idempotency-key': input.idempotencyKey },
      json: { tokenId: input.tokenId, amount: input.amount, resource: input.resource },
      timeoutMs: this.timeoutMs, dispatcher: this.dispatcher,
      signal,
    });
    if (answer.status !== 201 && answer.status !== 200) throw failure(answer, errorCode(answer.body), 'marketplace pay');
    // Transient, as a malformed receipt: whether the charge was made, the issuer's record for our key tells.
    refuseOverLimit(answer, 'marketplace pay');
    const parsed = receiptBody.safeParse(answer.body);
    if (!parsed.success) throw new TransientError('bad_response', 'marketplace pay returned no usable receipt');
    const a = parsed.data.data.attributes;
    const expiresAt = a.expiresAt ? new Date(a.expiresAt) : undefined;
    return {
      receiptId: parsed.data.data.id,
      receipt: a.receipt,
      chargeId: a.chargeId,
      amount: parseMoney(a.amount),
      resource: a.resource,
      ...(expiresAt && !Number.isNaN(expiresAt.getTime()) ? { expiresAt } : {}),
    };
  }

  /** Fetches the paid record with its receipt. A 402 here means the receipt was not accepted. */
  async fetchDetail(companyId: string, receipt: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const answer = await request(this.detailUrl(companyId), { provider: 'marketplace', route: 'marketplace GET /company/detail (paid)', headers: { 'x-payment-receipt': receipt }, timeoutMs: this.timeoutMs, dispatcher: this.dispatcher, signal });
    if (answer.status === 402) throw new PermanentError('receipt_rejected', `marketplace did not accept the receipt for ${companyId}`);
    if (answer.status !== 200) throw failure(answer, errorCode(answer.body), `marketplace detail ${companyId}`);
    return this.parseDetail(answer, companyId);
  }

  /** The resource path the marketplace names for a company's detail. */
  resourceOf(companyId: string): string {
    return `/company/detail?id=${encodeURIComponent(companyId)}`;
  }

  private detailUrl(companyId: string): string {
    return `${this.baseUrl}${this.resourceOf(companyId)}`;
  }

  /** A delivered record, its text capped (limits.ts; the note of what was cut is on the record). */
  private parseDetail(answer: HttpAnswer, companyId: string): Record<string, unknown> {
    // Too long is as final as malformed: the same record would come again.
    refuseOverLimit(answer, `marketplace detail ${companyId}`, { permanent: { code: 'bad_data' } });
    const parsed = detailBody.safeParse(answer.body);
    if (parsed.success && parsed.data.data.id !== companyId) {
      throw new PermanentError('receipt_mismatch', `marketplace delivered another company's record for ${companyId}`);
    }
    if (!parsed.success || Object.keys(parsed.data.data.attributes).length === 0) {
      throw new PermanentError('bad_data', `marketplace delivered a malformed record for ${companyId}`);
    }
    return capRecord(parsed.data.data.attributes).record;
  }
}
