import type { Hono } from 'hono';
import { z } from 'zod';
import { fingerprint } from '../../lib/fingerprint.ts';
import { IssuerError } from '../errors.ts';
import type { Ledger } from '../ledger.ts';
import { renderToken } from '../render.ts';
import { amountField, idempotencyKey, parseBody } from '../validate.ts';

/** Default lifetime of a token when `expiresInSeconds` is not given. */
export const DEFAULT_EXPIRES_IN_SECONDS = 3600;

const CreateToken = z.object({
  amount: z.union([z.string(), z.number()]),
  currency: z.string(),
  merchantId: z.string().min(1).max(100),
  reference: z.string().min(1).max(200),
  voiceVerification: z.unknown().optional(),
  expiresInSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
});

/**
 * Token routes: `POST /v1/tokens`, `GET /v1/tokens?reference=R`, `GET /v1/tokens/:id`, `POST /v1/tokens/:id/close`.
 */
export function tokenRoutes(app: Hono, ledger: Ledger): void {
  app.post('/v1/tokens', async (c) => {
    const key = idempotencyKey(c);
    const body = await parseBody(c, CreateToken);
    const limitFen = amountField(body.amount);
    if (body.currency !== 'CNY') throw new IssuerError(400, 'invalid_request', `currency: "${body.currency}" is not supported (only CNY)`);
    const input = {
      limitFen,
      currency: body.currency,
      merchantId: body.merchantId,
      reference: body.reference,
      expiresInSeconds: body.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS,
      ...(body.voiceVerification !== undefined ? { voiceVerification: body.voiceVerification } : {}),
    };
    const { token, replayed } = ledger.createToken(input, key ? { key, fingerprint: fingerprint(input) } : undefined);
    if (replayed) {
      c.header('Idempotent-Replayed', 'true');
      return c.json(renderToken(ledger, token), 200);
    }
    c.header('Location', `/v1/tokens/${token.id}`);
    return c.json(renderToken(ledger, token), 201);
  });

  app.get('/v1/tokens', (c) => {
    const reference = c.req.query('reference');
    const tokens = ledger.listTokens(reference === undefined || reference === '' ? undefined : reference);
    return c.json({ data: tokens.map((t) => renderToken(ledger, t)) });
  });

  app.get('/v1/tokens/:id', (c) => c.json(renderToken(ledger, ledger.getToken(c.req.param('id')))));

  app.post('/v1/tokens/:id/close', (c) => c.json(renderToken(ledger, ledger.close(c.req.param('id')))));
}
