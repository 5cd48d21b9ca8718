import { Hono } from 'hono';
import { CURRENCY, formatMoney } from '../../../shared/money.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { findTask } from './tasks.read.ts';

/**
 * GET /v1/tasks/:id/payments — the audit trail of a task's money, for finance: the token's hint, every payment with its
 * idempotency key, the issuer's charge id and the marketplace's receipt id, and every ledger movement
 * (reserve, capture, release, refund) in the order it was booked.
 */
export function paymentsRoute(deps: GatewayDeps) {
  return new Hono<AuthEnv>().get('/:id/payments', async (c) => {
    const task = await findTask(deps, c.req.param('id'), c.get('tenant'));
    const [payments, ledger] = await Promise.all([deps.repos.payments.forTask(task.id), deps.repos.payments.ledger(task.id)]);
    return c.json({
      taskId: task.id,
      // Never the token id itself: it is a spending credential. The hint lets finance match statements.
      tokenHint: task.token_hint,
      currency: CURRENCY,
      payments: payments.map((p) => ({
        id: String(p.id),
        companyId: p.company_id,
        resource: p.resource,
        amount: formatMoney(p.amount),
        refunded: formatMoney(p.refunded_amount),
        state: p.state,
        idempotencyKey: p.idempotency_key,
        chargeId: p.charge_id,
        receiptId: p.receipt_id,
        ...(p.reused_payment_id !== null ? { reusedFrom: String(p.reused_payment_id) } : {}),
        ...(p.last_error ? { lastError: p.last_error } : {}),
        createdAt: p.created_at.toISOString(),
        updatedAt: p.updated_at.toISOString(),
      })),
      ledger: ledger.map((l) => ({ id: String(l.id), paymentId: String(l.payment_id), kind: l.kind, amount: formatMoney(l.amount), at: l.created_at.toISOString() })),
    });
  });
}
