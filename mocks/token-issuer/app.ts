import { Hono } from 'hono';
import { createFaultInjector, faultMiddleware, type FaultConfig } from '../faults.ts';
import { bearerAuth } from './auth.ts';
import { IssuerError, issuerErrorBody, sendIssuerError } from './errors.ts';
import { fileJournal, memoryJournal } from './journal.ts';
import { Ledger } from './ledger.ts';
import { chargeRoutes } from './routes/charges.ts';
import { refundRoutes } from './routes/refunds.ts';
import { tokenRoutes } from './routes/tokens.ts';

/** Options of the token-issuer mock. */
export interface TokenIssuerOptions {
  /** The API key every call must carry as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Append-only JSONL journal; the books are replayed from it on start. In memory only when absent. */
  journalPath?: string;
  /** Injected faults; only `latency_ms`, `rate_429` and `error_5xx` apply here (all before any change). */
  faults?: FaultConfig;
  /** Clock in ms since the epoch; `Date.now` by default (tests inject it to expire tokens). */
  now?: () => number;
}

/**
 * Creates the card-network token issuer mock (UnionPay-like sandbox): budget-limited tokens bound to a
 * merchant, idempotent charges, refunds, close, and audit listing. Errors are `{ error: { code, message } }`.
 */
export function createTokenIssuerApp(opts: TokenIssuerOptions): Hono {
  const ledger = new Ledger(opts.journalPath ? fileJournal(opts.journalPath) : memoryJournal(), opts.now ?? Date.now);
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'token-issuer' }));
  app.use('*', faultMiddleware(createFaultInjector(opts.faults), (_status, code, message) => issuerErrorBody(code, message)));
  app.use('*', bearerAuth(opts.apiKey));
  tokenRoutes(app, ledger);
  chargeRoutes(app, ledger);
  refundRoutes(app, ledger);
  app.notFound((c) => sendIssuerError(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof IssuerError) return sendIssuerError(c, err.status, err.code, err.message);
    return sendIssuerError(c, 500, 'internal_error', err.message);
  });
  return app;
}
