import type { Hono } from 'hono';
import { z } from 'zod';
import { fingerprint } from '../../lib/fingerprint.ts';
import { IssuerError } from '../errors.ts';
import type { Ledger } from '../ledger.ts';
import { renderCharge } from '../render.ts';
import { amountField, idempotencyKey, parseBody } from '../validate.ts';

const CreateCharge = z.object({
  amount: z.union([z.string(), z.number()]),
  merchantId: z.string().min(1).max(100),
  description: z.string().max(500).nullable().optional(),
});

/** `POST /v1/tokens/:id/charges` — charges a token; `Idempotency-Key` is required. */
export function chargeRoutes(app: Hono, ledger: Ledger): void {
  app.post('/v1/tokens/:id/charges', async (c) => {
    const tokenId = c.req.param('id');
    ledger.getToken(tokenId); // 404 before anything else
    const key = idempotencyKey(c);
    if (key === undefined) throw new IssuerError(400, 'missing_idempotency_key', 'header Idempotency-Key is required');
    const body = await parseBody(c, CreateCharge);
    const input = { amountFen: amountField(body.amount), merchantId: body.merchantId, description: body.description ?? null };
    const { charge, replayed } = ledger.charge(tokenId, input, key, fingerprint(input));
    if (replayed) {
      c.header('Idempotent-Replayed', 'true');
      return c.json(renderCharge(charge), 200);
    }
    return c.json(renderCharge(charge), 201);
  });
}
