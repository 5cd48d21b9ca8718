import type { Context } from 'hono';
import { getCompany } from '../../data/companies.ts';
import type { MarketplaceDeps } from '../deps.ts';
import { sendError } from '../errors.ts';
import { checkReceipt, type ReceiptProblem } from '../receipt.ts';
import { detailResource, detailResourceJson, priceOf, resourcePath } from '../resources.ts';

const PROBLEMS: Record<ReceiptProblem, string> = {
  malformed: 'the payment receipt is malformed',
  bad_signature: 'the payment receipt signature is not valid',
  expired: 'the payment receipt has expired; pay again',
  wrong_resource: 'the payment receipt was issued for another resource',
  wrong_amount: 'the payment receipt was issued for another amount',
};

/**
 * `GET /company/detail?id=ID` — the paid record. Without a valid `X-Payment-Receipt` for this resource and
 * price it answers 402 with the price and where to pay; unknown id → 404.
 */
export function getCompanyDetail(deps: MarketplaceDeps) {
  return (c: Context): Response => {
    const id = c.req.query('id');
    if (id === undefined || id.trim() === '') return sendError(c, 400, 'invalid_request', 'query parameter "id" is required');
    const company = getCompany(id);
    if (!company) return sendError(c, 404, 'not_found', `no company with id "${id}"`);

    const resource = resourcePath(company.id);
    const price = priceOf(company);
    const paywall = (detail: string, problem?: ReceiptProblem): Response =>
      sendError(c, 402, 'payment_required', detail, {
        price,
        resource,
        pay: { method: 'POST', href: '/pay' },
        ...(problem ? { receiptError: problem } : {}),
      });

    const receipt = c.req.header('x-payment-receipt');
    if (receipt === undefined || receipt.trim() === '') {
      return paywall(`this record costs ${price.amount} ${price.currency}; pay with POST /pay, then send the receipt in X-Payment-Receipt`);
    }
    const checked = checkReceipt(deps.receiptSecret, receipt, { resource, amount: price.amount, now: deps.now() });
    if (!checked.ok) return paywall(PROBLEMS[checked.problem], checked.problem);

    if (deps.faults.hits('detail_gone', company.id)) {
      return sendError(c, 503, 'service_unavailable', 'this record cannot be delivered (injected fault: detail_gone)');
    }
    if (deps.faults.roll('detail_5xx')) {
      return sendError(c, 503, 'service_unavailable', 'detail service unavailable (injected fault); retry with the same receipt');
    }
    if (deps.faults.roll('detail_bad_data')) {
      return c.json({ data: { type: 'company_detail', id: company.id } });
    }
    if (deps.faults.roll('detail_partial')) {
      // An incomplete delivery: the record without its financials and shareholders.
      const { financials: _f, shareholders: _s, ...rest } = detailResource(company).attributes as Record<string, unknown>;
      return c.json({ data: { type: 'company_detail', id: company.id, attributes: rest } });
    }
    // The bytes of JSON.stringify({ data: detailResource(company), meta }), the record's part stored.
    const meta = JSON.stringify({ chargeId: checked.claims.chargeId, receiptExpiresAt: checked.claims.expiresAt });
    return c.body(`{"data":${detailResourceJson(company)},"meta":${meta}}`, 200, { 'Content-Type': 'application/json' });
  };
}
