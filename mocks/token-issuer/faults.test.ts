import { describe, expect, it } from 'vitest';
import { API_KEY, body, issuerCall } from '../testing/helpers.ts';
import { createTokenIssuerApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/token-issuer/openapi.yaml) in every answer below. */
const createTokenIssuerApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'token-issuer');

describe('token issuer fault injection', () => {
  it('answers injected 429/503 in its own error shape before changing anything', async () => {
    const app = createTokenIssuerApp({ apiKey: API_KEY, faults: { rate_429: 1 } });
    const res = await issuerCall(app, 'POST', '/v1/tokens', { amount: '5.00', currency: 'CNY', merchantId: 'm', reference: 'r' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await body(res)).error.code).toBe('rate_limited');
    expect((await app.request('/healthz')).status).toBe(200);

    const down = createTokenIssuerApp({ apiKey: API_KEY, faults: { error_5xx: 1 } });
    const res2 = await issuerCall(down, 'GET', '/v1/tokens');
    expect(res2.status).toBe(503);
    expect((await body(res2)).error.code).toBe('service_unavailable');
  });
});
