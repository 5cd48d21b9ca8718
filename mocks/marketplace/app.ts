import { Hono } from 'hono';
import type { Dispatcher } from 'undici';
import { createFaultInjector, faultMiddleware, type FaultConfig } from '../faults.ts';
import type { MarketplaceDeps } from './deps.ts';
import { errorDocument, sendError } from './errors.ts';
import { PaymentStore } from './idempotency.ts';
import { getCompanyBasic } from './routes/basic.ts';
import { getCompanyDetail } from './routes/detail.ts';
import { postPay } from './routes/pay.ts';

/** Options of the marketplace mock. */
export interface MarketplaceOptions {
  /** Base URL of the token issuer the marketplace charges (e.g. `http://127.0.0.1:4002`). */
  issuerUrl: string;
  /** The issuer's API key. */
  issuerApiKey: string;
  /** The pool to reach the issuer through (its client certificate when the issuer requires mutual TLS). */
  issuerDispatcher?: Dispatcher;
  /** HMAC key that signs payment receipts (`RECEIPT_SECRET`). */
  receiptSecret: string;
  /** Injected faults; none by default. */
  faults?: FaultConfig;
  /** Clock in ms since the epoch; `Date.now` by default (tests inject it to expire receipts). */
  now?: () => number;
}

/**
 * Creates the company-data marketplace mock: `GET /company/basic`, `GET /company/detail` (402 paywall),
 * `POST /pay`, and `GET /healthz`. Errors are JSON:API.
 */
export function createMarketplaceApp(opts: MarketplaceOptions): Hono {
  const deps: MarketplaceDeps = {
    issuerUrl: opts.issuerUrl,
    issuerApiKey: opts.issuerApiKey,
    issuerDispatcher: opts.issuerDispatcher,
    receiptSecret: opts.receiptSecret,
    faults: createFaultInjector(opts.faults),
    now: opts.now ?? Date.now,
    payments: new PaymentStore(),
  };
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'marketplace' }));
  app.use('*', faultMiddleware(deps.faults, (status, code, message) => errorDocument(status, code, message)));
  app.get('/company/basic', getCompanyBasic);
  app.get('/company/detail', getCompanyDetail(deps));
  app.post('/pay', postPay(deps));
  app.notFound((c) => sendError(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => sendError(c, 500, 'internal_error', err.message));
  return app;
}
