import { createRoute, z } from '@hono/zod-openapi';
import { CURRENCY, formatMoney } from '../../../shared/money.ts';
import type { AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { contractRoutes } from '../openapi.ts';
import { Currency, Money, TaskIdParams, Timestamp } from '../schemas/common.ts';
import { problemResponses, V1_PROBLEMS } from '../schemas/problem.ts';
import { findTask } from './tasks.read.ts';

/** A payment of a task, as the audit trail shows it. */
export const Payment = z
  .strictObject({
    id: z.string(),
    companyId: z.string(),
    resource: z.string().openapi({ example: '/company/detail?id=co_0042' }),
    amount: Money,
    refunded: Money,
    state: z.enum(['reserved', 'unknown', 'captured', 'delivered', 'released', 'refunded']).openapi({
      description: 'reserved → captured → delivered, or → released (never charged), or captured → refunded; `unknown` until the outcome of the pay call is known.',
    }),
    idempotencyKey: z.string(),
    chargeId: z.string().nullable().openapi({ description: "The issuer's charge id." }),
    receiptId: z.string().nullable().openapi({ description: "The marketplace's receipt id (never the receipt itself)." }),
    reusedFrom: z.string().optional().openapi({ description: 'The payment whose still-valid receipt fetched this record again, at no cost.' }),
    lastError: z.string().optional(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Payment');

/** A movement of a task's money, in booking order. */
export const LedgerEntry = z
  .strictObject({ id: z.string(), paymentId: z.string(), kind: z.enum(['reserve', 'capture', 'release', 'refund']), amount: Money, at: Timestamp })
  .openapi('LedgerEntry');

/** The audit trail of a task's money. */
export const PaymentTrail = z
  .strictObject({
    taskId: z.uuid(),
    tokenHint: z.string().nullable().openapi({ description: 'Enough of the payment token id for finance to recognise it (`tok_…9e`); never the token id, a spending credential.', example: 'tok_…9e' }),
    currency: Currency,
    payments: z.array(Payment),
    ledger: z.array(LedgerEntry),
  })
  .openapi('PaymentTrail');

/** The contract of GET /v1/tasks/{id}/payments. */
export const getPayments = createRoute({
  method: 'get',
  path: '/tasks/{id}/payments',
  operationId: 'getPayments',
  tags: ['tasks'],
  summary: "A task's payments and ledger (audit trail)",
  request: { params: TaskIdParams },
  responses: {
    200: { description: 'Every payment with its idempotency key, charge id and receipt id, and every ledger movement.', content: { 'application/json': { schema: PaymentTrail } } },
    ...problemResponses(...V1_PROBLEMS, 'not_found'),
  },
});

/**
 * GET /v1/tasks/:id/payments — the audit trail of a task's money, for finance: the token's hint, every payment with its
 * idempotency key, the issuer's charge id and the marketplace's receipt id, and every ledger movement
 * (reserve, capture, release, refund) in the order it was booked.
 */
export function paymentsRoute(deps: GatewayDeps) {
  return contractRoutes<AuthEnv>().openapi(getPayments, async (c) => {
    const task = await findTask(deps, c.req.valid('param').id, c.get('tenant'));
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
    }, 200);
  });
}
