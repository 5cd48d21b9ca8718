import { formatAmount } from '../lib/money.ts';
import type { RefundRecord } from './journal.ts';
import type { ChargeState, Ledger, TokenState } from './ledger.ts';

/** A charge on the wire. */
export function renderCharge(charge: ChargeState): Record<string, unknown> {
  return {
    id: charge.id,
    amount: formatAmount(charge.amountFen),
    merchantId: charge.merchantId,
    description: charge.description,
    idempotencyKey: charge.idempotencyKey,
    refundedAmount: formatAmount(charge.refundedFen),
    createdAt: charge.createdAt,
  };
}

/** A token on the wire, charges included. */
export function renderToken(ledger: Ledger, token: TokenState): Record<string, unknown> {
  return {
    id: token.id,
    limit: formatAmount(token.limitFen),
    balance: formatAmount(ledger.balanceOf(token)),
    spent: formatAmount(token.spentFen),
    currency: token.currency,
    merchantId: token.merchantId,
    reference: token.reference,
    status: ledger.statusOf(token),
    expiresAt: token.expiresAt,
    charges: token.charges.map(renderCharge),
  };
}

/** A refund on the wire. */
export function renderRefund(refund: RefundRecord): Record<string, unknown> {
  return { id: refund.id, chargeId: refund.chargeId, amount: formatAmount(refund.amountFen), createdAt: refund.createdAt };
}
