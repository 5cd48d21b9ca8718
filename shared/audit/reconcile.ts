import { isPaymentKeyOf, type Repositories, type Task } from '../db/index.ts';
import { formatMoney } from '../money.ts';
import { tokenHint } from '../redact.ts';
import type { IssuerClient, IssuerToken } from '../providers/issuer.ts';

/** One disagreement between our books and the issuer's, or inside our own. */
export interface Difference {
  taskId: string;
  kind: string;
  detail: string;
}

export interface TaskBalance {
  taskId: string;
  status: string;
  /** captured − refunded, by us and by the issuer (fen). */
  ours: number;
  issuer: number;
}

export interface ReconcileResult {
  checked: TaskBalance[];
  /**
   * Tasks still running: their money is moving (a charge may be landing right now), so comparing them
   * would report differences that are not there. They are compared once they end.
   */
  inFlight: string[];
  differences: Difference[];
}

const isEnded = (t: Task) => t.status === 'completed' || t.status === 'failed' || t.status === 'cancelled';

const sumBy = <T>(items: T[], f: (t: T) => number) => items.reduce((s, t) => s + f(t), 0);

/**
 * Compares one task's books with the issuer's record of its tokens, to the fen: the task's totals,
 * its ledger rows, and each charge by idempotency key. An ended task must hold no reservation and
 * no open token.
 */
export async function reconcileTask(repos: Repositories, task: Task, tokens: IssuerToken[]): Promise<{ balance: TaskBalance; differences: Difference[] }> {
  const differences: Difference[] = [];
  const diff = (kind: string, detail: string) => differences.push({ taskId: task.id, kind, detail });
  const [payments, ledger] = await Promise.all([repos.payments.forTask(task.id), repos.payments.ledger(task.id)]);
  const charges = tokens.flatMap((t) => t.charges);
  const issuerNet = sumBy(charges, (c) => c.amount - c.refundedAmount);
  const ours = task.captured - task.refunded;

  if (ours !== issuerNet) diff('net_mismatch', `ours ${formatMoney(ours)} ≠ issuer ${formatMoney(issuerNet)}`);
  const ledgerOf = (kind: string) => sumBy(ledger.filter((l) => l.kind === kind), (l) => l.amount);
  if (ledgerOf('capture') !== task.captured) diff('ledger_capture', `ledger captures ${formatMoney(ledgerOf('capture'))} ≠ task captured ${formatMoney(task.captured)}`);
  if (ledgerOf('refund') !== task.refunded) diff('ledger_refund', `ledger refunds ${formatMoney(ledgerOf('refund'))} ≠ task refunded ${formatMoney(task.refunded)}`);
  const held = ledgerOf('reserve') - ledgerOf('capture') - ledgerOf('release');
  if (held !== task.reserved) diff('ledger_reserved', `ledger holds ${formatMoney(held)} ≠ task reserved ${formatMoney(task.reserved)}`);

  const byKey = new Map(payments.map((p) => [p.idempotency_key, p]));
  for (const charge of charges) {
    const p = charge.idempotencyKey ? byKey.get(charge.idempotencyKey) : undefined;
    if (!p) {
      // Under one of our keys: our books lost it. Under any other: someone else spent with the token.
      if (isPaymentKeyOf(task.id, charge.idempotencyKey)) diff('unbooked_charge', `issuer charge ${charge.id} (${formatMoney(charge.amount)}) has no payment of ours`);
      else diff('foreign_charge', `issuer charge ${charge.id} (${formatMoney(charge.amount)}) on this task's token was not made by us`);
      continue;
    }
    if (p.charge_id !== charge.id) diff('charge_id', `payment ${p.id} records charge ${p.charge_id ?? 'none'}, issuer has ${charge.id}`);
    if (p.amount !== charge.amount) diff('charge_amount', `payment ${p.id} is ${formatMoney(p.amount)}, issuer charged ${formatMoney(charge.amount)}`);
    if (p.refunded_amount !== charge.refundedAmount) diff('refund_amount', `payment ${p.id} refunded ${formatMoney(p.refunded_amount)}, issuer ${formatMoney(charge.refundedAmount)}`);
  }
  const chargedKeys = new Set(charges.map((c) => c.idempotencyKey));
  for (const p of payments) {
    if (p.charge_id && !chargedKeys.has(p.idempotency_key)) diff('missing_charge', `payment ${p.id} says charged (${p.charge_id}) but the issuer has no such charge`);
  }
  if (tokens.length > 1) diff('several_tokens', `${tokens.length} tokens reference this task`);
  const ended = ['completed', 'failed', 'cancelled'].includes(task.status);
  if (ended && task.reserved !== 0) diff('held_after_end', `${formatMoney(task.reserved)} still reserved after the task ${task.status}`);
  if (ended) for (const t of tokens) if (t.status === 'active') diff('token_open', `token ${tokenHint(t.id)} is still active after the task ${task.status}`);
  return { balance: { taskId: task.id, status: task.status, ours, issuer: issuerNet }, differences };
}

/**
 * Reconciles one task, or every task (paging through them, with the issuer's tokens fetched once).
 * Only ended tasks are compared; running ones are listed as in flight. Issuer tokens that reference no
 * task of ours are differences too.
 */
export async function reconcile(repos: Repositories, issuer: IssuerClient, taskId?: string): Promise<ReconcileResult> {
  const checked: TaskBalance[] = [];
  const inFlight: string[] = [];
  const differences: Difference[] = [];
  if (taskId) {
    const task = await repos.tasks.get(taskId);
    if (!task) {
      // Money the issuer holds for a task we do not know is a difference, as in the full audit.
      const net = sumBy((await issuer.tokensFor(taskId)).flatMap((t) => t.charges), (c) => c.amount - c.refundedAmount);
      if (net === 0) throw new Error(`no task ${taskId}`);
      return { checked: [], inFlight, differences: [{ taskId, kind: 'unknown_reference', detail: `issuer holds ${formatMoney(net)} charged for a task we do not know` }] };
    }
    if (!isEnded(task)) return { checked, inFlight: [task.id], differences };
    // The issuer knows the task by its id as we stored it (the caller's spelling may differ in case).
    const r = await reconcileTask(repos, task, await issuer.tokensFor(task.id));
    return { checked: [r.balance], inFlight, differences: r.differences };
  }
  const tokensByRef = new Map<string, IssuerToken[]>();
  for (const t of await issuer.allTokens()) tokensByRef.set(t.reference, [...(tokensByRef.get(t.reference) ?? []), t]);
  const seen = new Set<string>();
  for await (const task of repos.tasks.all()) {
    seen.add(task.id);
    if (!isEnded(task)) {
      inFlight.push(task.id);
      continue;
    }
    const r = await reconcileTask(repos, task, tokensByRef.get(task.id) ?? []);
    checked.push(r.balance);
    differences.push(...r.differences);
  }
  for (const [reference, tokens] of tokensByRef) {
    if (seen.has(reference)) continue;
    const net = sumBy(tokens.flatMap((t) => t.charges), (c) => c.amount - c.refundedAmount);
    if (net !== 0) differences.push({ taskId: reference, kind: 'unknown_reference', detail: `issuer holds ${formatMoney(net)} charged for a task we do not know` });
  }
  return { checked, inFlight, differences };
}
