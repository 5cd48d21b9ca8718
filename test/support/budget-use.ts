import { expect } from 'vitest';
import type { Harness } from './harness.ts';

/**
 * The task's budget use (budget_usage) as the ledger says it must be at this instant: every row of the
 * task counted once, by kind, with no job in between (it is counted in the transaction of the movement).
 */
export async function expectBudgetUseOfLedger(h: Pick<Harness, 'repos'>, taskId: string): Promise<void> {
  const ledger = await h.repos.payments.ledger(taskId);
  const sum = (kind: string) => ledger.filter((l) => l.kind === kind).reduce((s, l) => s + l.amount, 0);
  const usage = await h.repos.dashboard.forTask(taskId);
  expect(usage && { reserved: usage.reserved, captured: usage.captured, released: usage.released, refunded: usage.refunded, events: usage.events }).toEqual({
    reserved: sum('reserve'),
    captured: sum('capture'),
    released: sum('release'),
    refunded: sum('refund'),
    events: ledger.length,
  });
}
