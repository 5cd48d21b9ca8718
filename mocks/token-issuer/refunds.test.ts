import { describe, expect, it } from 'vitest';
import { API_KEY, body, issuerCall } from '../testing/helpers.ts';
import { createTokenIssuerApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/token-issuer/openapi.yaml) in every answer below. */
const createTokenIssuerApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'token-issuer');

async function charged(amount = '12.00') {
  const app = createTokenIssuerApp({ apiKey: API_KEY });
  const token = await body(await issuerCall(app, 'POST', '/v1/tokens', { amount: '50.00', currency: 'CNY', merchantId: 'marketplace', reference: 'task-r' }));
  const charge = await body(await issuerCall(app, 'POST', `/v1/tokens/${token.id}/charges`, { amount, merchantId: 'marketplace' }, { 'idempotency-key': 'c1' }));
  const refund = (payload?: unknown, key?: string) =>
    issuerCall(app, 'POST', `/v1/charges/${charge.id}/refunds`, payload, key === undefined ? {} : { 'idempotency-key': key });
  const get = async () => body(await issuerCall(app, 'GET', `/v1/tokens/${token.id}`));
  return { app, token, charge, refund, get };
}

describe('POST /v1/charges/:id/refunds', () => {
  it('refunds part of a charge: lowers spent and raises the balance while active', async () => {
    const { charge, refund, get } = await charged();
    const res = await refund({ amount: '5.00' });
    expect(res.status).toBe(201);
    expect(await body(res)).toEqual({ id: expect.any(String), chargeId: charge.id, amount: '5.00', createdAt: expect.any(String) });
    const token = await get();
    expect(token).toMatchObject({ spent: '7.00', balance: '43.00' });
    expect(token.charges[0].refundedAmount).toBe('5.00');
  });

  it('refunds all that is left by default (empty body or no amount)', async () => {
    const { refund, get } = await charged();
    await refund({ amount: '2.50' });
    const res = await refund();
    expect(res.status).toBe(201);
    expect((await body(res)).amount).toBe('9.50');
    expect(await get()).toMatchObject({ spent: '0.00', balance: '50.00' });
    const nothingLeft = await refund({});
    expect(nothingLeft.status).toBe(422);
    expect((await body(nothingLeft)).error.code).toBe('refund_exceeds_charge');
  });

  it('answers 422 refund_exceeds_charge beyond what is left', async () => {
    const { refund, get } = await charged();
    const res = await refund({ amount: '12.01' });
    expect(res.status).toBe(422);
    expect((await body(res)).error.code).toBe('refund_exceeds_charge');
    await refund({ amount: '10.00' });
    expect((await refund({ amount: '2.01' })).status).toBe(422);
    expect((await refund({ amount: '2.00' })).status).toBe(201);
    expect((await get()).spent).toBe('0.00');
  });

  it('is allowed after close: lowers spent, the balance stays 0.00', async () => {
    const { app, token, refund, get } = await charged();
    await issuerCall(app, 'POST', `/v1/tokens/${token.id}/close`);
    const res = await refund({ amount: '4.00' });
    expect(res.status).toBe(201);
    expect(await get()).toMatchObject({ status: 'closed', spent: '8.00', balance: '0.00' });
  });

  it('replays with the same Idempotency-Key and refuses another body', async () => {
    const { refund, get } = await charged();
    const first = await body(await refund({ amount: '3.00' }, 'r1'));
    const again = await refund({ amount: 3 }, 'r1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await body(again)).toEqual(first);
    const conflict = await refund({ amount: '4.00' }, 'r1');
    expect(conflict.status).toBe(422);
    expect((await body(conflict)).error.code).toBe('idempotency_conflict');
    expect((await get()).spent).toBe('9.00');
  });

  it('answers 404 for an unknown charge and 400 on a bad amount', async () => {
    const { app, refund } = await charged();
    const res = await issuerCall(app, 'POST', '/v1/charges/ch_nope/refunds', {});
    expect(res.status).toBe(404);
    expect((await body(res)).error.code).toBe('not_found');
    const bad = await refund({ amount: '-1' });
    expect(bad.status).toBe(400);
    expect((await body(bad)).error.code).toBe('invalid_request');
  });
});
