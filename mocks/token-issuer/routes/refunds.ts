import type { Hono } from 'hono';
import { z } from 'zod';
import { fingerprint } from '../../lib/fingerprint.ts';
import type { Ledger } from '../ledger.ts';
import { renderRefund } from '../render.ts';
import { amountField, idempotencyKey, parseBody } from '../validate.ts';

const CreateRefund = z.object({ amount: z.union([z.string(), z.number()]).nullable().optional() });

/** `POST /v1/charges/:id/refunds` — refunds part or all of what is left of a charge; optional `Idempotency-Key`. */
export function refundRoutes(app: Hono, ledger: Ledger): void {
  app.post('/v1/charges/:id/refunds', async (c) => {
    const key = idempotencyKey(c);
    const body = await parseBody(c, CreateRefund, true);
    const amountFen = body.amount === undefined || body.amount === null ? null : amountField(body.amount);
    const { refund, replayed } = ledger.refund(
      c.req.param('id'),
      amountFen,
      key ? { key, fingerprint: fingerprint({ amountFen }) } : undefined,
    );
    if (replayed) {
      c.header('Idempotent-Replayed', 'true');
      return c.json(renderRefund(refund), 200);
    }
    return c.json(renderRefund(refund), 201);
  });
}
