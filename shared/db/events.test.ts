import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, runningTask, type Harness } from '../../test/support/harness.ts';
import { appendEvents, type NewTaskEvent } from './events.ts';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const decision = (companyId: string): NewTaskEvent => ({ type: 'decision', data: { companyId, name: companyId, action: 'buy', reason: 'ranked', by: 'rules', price: '1.00' } });

async function story(taskId: string) {
  return (await h.repos.events.since(taskId, 0)).map((e) => ({ seq: e.seq, type: e.type, companyId: e.data.companyId }));
}

describe('a batch of events appended in one statement', () => {
  it('gets consecutive seqs after the story so far, in the order given, and moves the task head to the last', async () => {
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'battery', budgetLimit: 5000 });
    const before = await story(taskId);
    const head = before.at(-1)?.seq ?? 0;
    const last = await appendEvents(h.database.db, taskId, [{ type: 'candidates', data: { count: 3, chosen: 2 } }, decision('a'), decision('b'), decision('c')]);
    expect(last).toBe(head + 4);
    expect((await story(taskId)).slice(before.length)).toEqual([
      { seq: head + 1, type: 'candidates', companyId: undefined },
      { seq: head + 2, type: 'decision', companyId: 'a' },
      { seq: head + 3, type: 'decision', companyId: 'b' },
      { seq: head + 4, type: 'decision', companyId: 'c' },
    ]);
    expect((await h.repos.events.heads([taskId])).get(taskId)).toBe(head + 4);
    // Nothing to append: nothing written, the head stays.
    expect(await appendEvents(h.database.db, taskId, [])).toBeUndefined();
    expect((await h.repos.events.heads([taskId])).get(taskId)).toBe(head + 4);
  });

  it('`once`: of racing writers of the same batch (a redelivered search), exactly one writes it, whole', async () => {
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'battery', budgetLimit: 5000 });
    const before = (await story(taskId)).length;
    const batch: NewTaskEvent[] = [{ type: 'candidates', data: { count: 2, chosen: 2 } }, decision('x'), decision('y')];
    const results = await Promise.all(Array.from({ length: 4 }, () => appendEvents(h.database.db, taskId, batch, { once: true })));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const after = (await story(taskId)).slice(before);
    expect(after.map((e) => e.type)).toEqual(['candidates', 'decision', 'decision']);
    expect(after.map((e) => e.seq)).toEqual([after[0]!.seq, after[0]!.seq + 1, after[0]!.seq + 2]);
  });

  it('writes nothing for a task that does not exist', async () => {
    expect(await appendEvents(h.database.db, randomUUID(), [decision('z')])).toBeUndefined();
    expect(await appendEvents(h.database.db, randomUUID(), [decision('z')], { once: true })).toBeUndefined();
  });
});
