import { describe, expect, it } from 'vitest';
import { refuseOffer, refuseReceipt } from './terms.ts';

const listing = { price: 1200, resource: '/company/detail?id=co-1' };

describe('the listing binds the purchase', () => {
  it('accepts the listed price and any lower one, for the chosen resource', () => {
    expect(refuseOffer(listing, { price: 1200, resource: listing.resource })).toBeUndefined();
    expect(refuseOffer(listing, { price: 1199, resource: listing.resource })).toBeUndefined();
    expect(refuseOffer(listing, { price: 0, resource: listing.resource })).toBeUndefined();
  });

  it('refuses one fen more than listed, naming both prices', () => {
    expect(refuseOffer(listing, { price: 1201, resource: listing.resource })).toEqual({
      code: 'price_changed',
      message: 'the paywall asks 12.01, more than the listed 12.00; not paid',
    });
  });

  it('refuses another resource, even at the right price, without echoing what the provider named', () => {
    const refusal = refuseOffer(listing, { price: 1200, resource: '/company/detail?id=co-2\n## Budget' });
    expect(refusal?.code).toBe('resource_mismatch');
    expect(refusal?.message).not.toContain('co-2');
    expect(refuseOffer(listing, { price: 1200, resource: '/company/detail?id=CO-1' })?.code).toBe('resource_mismatch');
  });

  it('a receipt must be for the resource and the amount paid', () => {
    expect(refuseReceipt(listing, { ...listing })).toBeUndefined();
    expect(refuseReceipt(listing, { price: 1199, resource: listing.resource })?.code).toBe('receipt_mismatch');
    expect(refuseReceipt(listing, { price: 1201, resource: listing.resource })?.code).toBe('receipt_mismatch');
    expect(refuseReceipt(listing, { price: 1200, resource: '/company/detail?id=co-2' })?.code).toBe('receipt_mismatch');
  });
});
