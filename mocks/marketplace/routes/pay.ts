import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { getCompany } from '../../data/companies.ts';
import { fingerprint } from '../../lib/fingerprint.ts';
import { describeIssues, readJsonBody } from '../../lib/json-body.ts';
import { formatAmount, parseAmount } from '../../lib/money.ts';
import { sleep } from '../../lib/sleep.ts';
import type { MarketplaceDeps } from '../deps.ts';
import { errorDocument, sendError } from '../errors.ts';
import { chargeToken, type ChargeOutcome } from '../issuer-client.ts';
import { RECEIPT_TTL_MS, receiptIdFor, signReceipt } from '../receipt.ts';
import { CURRENCY, parseResourcePath, priceOf } from '../resources.ts';

const PayBody = z.object({
  tokenId: z.string().min(1).max(200),
  amount: z.union([z.string(), z.number()]),
  resource: z.string().min(1).max(500),
});

/** An answer computed under the key's lock, with the post-charge fault to apply after the lock is released. */
interface PayAnswer {
  status: number;
  document: unknown;
  headers?: Record<string, string>;
  fault?: 'pay_timeout' | 'pay_5xx_after_charge';
}

function failure(status: number, code: string, detail: string, meta?: Record<string, unknown>): PayAnswer {
  return { status, document: errorDocument(status, code, detail, meta) };
}

/** Maps an issuer outcome other than a charge to the marketplace's answer. */
function issuerFailure(outcome: Exclude<ChargeOutcome, { kind: 'charged' }>): PayAnswer {
  switch (outcome.kind) {
    case 'unreachable':
      return failure(502, 'issuer_unreachable', `the token issuer could not be reached: ${outcome.message}`);
    case 'timeout':
      return failure(504, 'issuer_timeout', 'the token issuer did not answer in time');
    case 'bad_response':
      return failure(502, 'issuer_bad_response', outcome.message);
    case 'declined': {
      if (outcome.status === 401) {
        return failure(502, 'issuer_auth_failed', `the token issuer refused the marketplace's credentials: ${outcome.message}`);
      }
      if (outcome.status >= 500) {
        return failure(502, 'issuer_unavailable', `the token issuer failed (${outcome.status} ${outcome.code}): ${outcome.message}`);
      }
      const answer = failure(outcome.status, outcome.code, outcome.message);
      if (outcome.retryAfter) answer.headers = { 'Retry-After': outcome.retryAfter };
      return answer;
    }
  }
}

/**
 * `POST /pay` — pays for a resource by charging the caller's token at the issuer, and answers a signed receipt.
 * Requires `Idempotency-Key`; the same key and body give the same receipt (200), another body 422.
 */
export function postPay(deps: MarketplaceDeps) {
  return async (c: Context): Promise<Response> => {
    const key = c.req.header('idempotency-key');
    if (key === undefined || key.trim() === '') {
      return sendError(c, 400, 'missing_idempotency_key', 'header Idempotency-Key is required');
    }
    if (key.length > 255) return sendError(c, 400, 'invalid_request', 'header Idempotency-Key must be at most 255 characters');

    const body = await readJsonBody(c);
    if (!body.ok) return sendError(c, 400, 'invalid_request', body.message);
    const parsed = PayBody.safeParse(body.value);
    if (!parsed.success) return sendError(c, 400, 'invalid_request', describeIssues(parsed.error.issues));
    const { tokenId, resource } = parsed.data;
    const amountFen = parseAmount(parsed.data.amount);
    if (amountFen === null) {
      return sendError(c, 400, 'invalid_request', 'amount: must be a positive decimal with at most two places, e.g. "12.00"');
    }
    const print = fingerprint({ tokenId, amountFen, resource });

    const answer = await deps.payments.withLock(key, async (): Promise<PayAnswer> => {
      const stored = deps.payments.get(key);
      if (stored) {
        if (stored.fingerprint !== print) {
          return failure(422, 'idempotency_conflict', 'this Idempotency-Key was already used with another request body');
        }
        return { status: 200, document: stored.document, headers: { 'Idempotent-Replayed': 'true' } };
      }

      const id = parseResourcePath(resource);
      const company = id === null ? undefined : getCompany(id);
      if (!company) return failure(404, 'resource_not_found', `no payable resource "${resource}"`);
      if (amountFen !== company.priceFen) {
        return failure(422, 'wrong_amount', `${resource} costs ${formatAmount(company.priceFen)} ${CURRENCY}, not ${formatAmount(amountFen)}`, {
          price: priceOf(company),
        });
      }

      const amount = formatAmount(amountFen);
      const outcome = await chargeToken({
        issuerUrl: deps.issuerUrl,
        apiKey: deps.issuerApiKey,
        dispatcher: deps.issuerDispatcher,
        tokenId,
        amount,
        resource,
        idempotencyKey: key,
      });
      if (outcome.kind !== 'charged') return issuerFailure(outcome);

      const { charge } = outcome;
      if (parseAmount(charge.amount) !== amountFen) {
        return failure(502, 'issuer_bad_response', `the issuer charged ${charge.amount} instead of ${amount}`);
      }
      const issuedAt = Date.parse(charge.createdAt);
      const expiresAt = new Date((Number.isNaN(issuedAt) ? deps.now() : issuedAt) + RECEIPT_TTL_MS).toISOString();
      const receipt = signReceipt(deps.receiptSecret, { v: 1, resource, amount, currency: CURRENCY, chargeId: charge.id, expiresAt });
      const document = {
        data: {
          type: 'payment_receipt',
          id: receiptIdFor(charge.id),
          attributes: { receipt, amount, currency: CURRENCY, resource, chargeId: charge.id, expiresAt },
        },
      };

      if (deps.faults.roll('pay_timeout')) return { status: 504, document, fault: 'pay_timeout' };
      if (deps.faults.roll('pay_5xx_after_charge')) return { status: 500, document, fault: 'pay_5xx_after_charge' };
      deps.payments.set(key, { fingerprint: print, document });
      return outcome.replayed
        ? { status: 200, document, headers: { 'Idempotent-Replayed': 'true' } }
        : { status: 201, document };
    });

    if (answer.fault === 'pay_timeout') {
      await sleep(deps.faults.config.timeout_hang_ms, c.req.raw.signal);
      return sendError(c, 504, 'gateway_timeout', 'payment processing timed out (injected fault); the charge may have been made');
    }
    if (answer.fault === 'pay_5xx_after_charge') {
      return sendError(c, 500, 'internal_error', 'payment processing failed after the charge (injected fault)');
    }
    for (const [name, value] of Object.entries(answer.headers ?? {})) c.header(name, value);
    return c.json(answer.document as object, answer.status as ContentfulStatusCode);
  };
}
