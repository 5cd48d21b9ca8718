import type { Fen } from '../../shared/money.ts';
import { formatMoney } from '../../shared/money.ts';

/** What the search stage chose to buy: the company's listed price and its resource. */
export interface Listing {
  price: Fen;
  resource: string;
}

/** What a provider asks or hands over: a price (or a receipt's amount) for a resource. */
export interface Offer {
  price: Fen;
  resource: string;
}

export type Refusal = { code: 'price_changed' | 'resource_mismatch' | 'receipt_mismatch'; message: string };

/**
 * Whether a 402 may be paid. The listing binds the purchase (providers are not trusted to be honest):
 * the listed price is the most the agent pays — a lower price is paid as asked — and the 402 must name
 * the resource that was chosen, not another.
 */
export function refuseOffer(listing: Listing, offer: Offer): Refusal | undefined {
  if (offer.resource !== listing.resource) {
    return { code: 'resource_mismatch', message: `the paywall asked payment for another resource than the one chosen (${listing.resource})` };
  }
  if (offer.price > listing.price) {
    return { code: 'price_changed', message: `the paywall asks ${formatMoney(offer.price)}, more than the listed ${formatMoney(listing.price)}; not paid` };
  }
  return undefined;
}

/** Whether a receipt proves the payment that was made: the same resource and the same amount. */
export function refuseReceipt(paid: Offer, receipt: Offer): Refusal | undefined {
  if (receipt.resource !== paid.resource || receipt.price !== paid.price) {
    return {
      code: 'receipt_mismatch',
      message: `the receipt is for ${formatMoney(receipt.price)} of another purchase than the ${formatMoney(paid.price)} paid for ${paid.resource}`,
    };
  }
  return undefined;
}
