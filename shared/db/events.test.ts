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

describe('the events a task row change writes with it, in the same statement', () => {
  const queuedTask = async () => {
    const id = randomUUID();
    const created = await h.repos.tasks.create({
      id, tenant: 'acme', idempotency_key: null, request_hash: null, theme: 'battery', voice_id: 'demo-voice', currency: 'CNY',
      max_companies: 5, status: 'queued', stage: null, budget_limit: 5000, token_id: null, error_code: null, error_message: null, ended_at: null,
    });
    if (created.kind !== 'created') throw new Error('fixture task not created');
    return id;
  };
  const stages = async (id: string) => (await h.repos.events.since(id, 0)).filter((e) => e.type === 'stage').map((e) => e.data.stage);

  it('entering a stage tells it once: a retry, or retries racing, tell nothing more; an earlier stage is refused', async () => {
    const id = await queuedTask();
    expect(await h.repos.tasks.enterStage(id, 'search')).toMatchObject({ id, status: 'running', stage: 'search' });
    expect(await h.repos.tasks.enterStage(id, 'search')).toMatchObject({ stage: 'search' });
    const raced = await Promise.all(Array.from({ length: 4 }, () => h.repos.tasks.enterStage(id, 'authorize')));
    expect(raced.every((t) => t?.stage === 'authorize')).toBe(true);
    expect(await h.repos.tasks.enterStage(id, 'search')).toBeUndefined();
    expect(await stages(id)).toEqual(['search', 'authorize']);
    const story = await h.repos.events.since(id, 0);
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    expect((await h.repos.events.heads([id])).get(id)).toBe(story.length);
  });

  it('ending a task tells `ended` once, last, and racing ends leave the first outcome', async () => {
    const id = await queuedTask();
    await h.repos.tasks.enterStage(id, 'report');
    const ends = await Promise.all([h.repos.tasks.end(id, 'completed'), h.repos.tasks.end(id, 'failed', { code: 'x', message: 'y' }), h.repos.tasks.end(id, 'cancelled')]);
    expect(ends.filter(Boolean)).toHaveLength(1);
    const story = await h.repos.events.since(id, 0);
    expect(story.filter((e) => e.type === 'ended')).toHaveLength(1);
    expect(story.at(-1)!.type).toBe('ended');
    expect(story.at(-1)!.data.status).toBe((await h.repos.tasks.get(id))!.status);
    expect(await h.repos.tasks.enterStage(id, 'report')).toBeUndefined();
    expect(await h.repos.tasks.end(id, 'completed')).toBe(false);
    expect((await h.repos.events.since(id, 0)).length).toBe(story.length);
  });
});

describe('`token_issued` and `report_ready`: told once, by the write that first makes the change', () => {
  it('the token: racing and repeated saves of it tell `token_issued` once; the id is kept sealed, never in the story', async () => {
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'battery', budgetLimit: 5000, stage: 'detail' });
    const issued = { limit: '50.00', expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    await Promise.all(Array.from({ length: 3 }, () => h.repos.tasks.setToken(taskId, 'tok_secret_1', issued)));
    await h.repos.tasks.setToken(taskId, 'tok_secret_1', issued);
    const story = await h.repos.events.since(taskId, 0);
    expect(story.filter((e) => e.type === 'token_issued').map((e) => e.data)).toEqual([issued]);
    expect(JSON.stringify(story)).not.toContain('tok_secret_1');
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    const task = (await h.repos.tasks.get(taskId))!;
    expect(task.token_id).not.toContain('tok_secret_1');
    expect(h.repos.tasks.tokenOf(task)).toBe('tok_secret_1');
  });

  it('the report: racing and retried saves keep the last text and tell `report_ready` once', async () => {
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'battery', budgetLimit: 5000, stage: 'detail' });
    await Promise.all(['# one', '# two', '# three'].map((text) => h.repos.reports.save(taskId, text, 'offline')));
    await h.repos.reports.save(taskId, '# final', 'offline');
    expect(await h.repos.reports.get(taskId)).toEqual({ markdown: '# final', writer: 'offline' });
    const story = await h.repos.events.since(taskId, 0);
    expect(story.filter((e) => e.type === 'report_ready').map((e) => e.data)).toEqual([{ writer: 'offline' }]);
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
  });
});

describe("the report's closing statement: the report stored, the unsettled skipped, foreign charges noted, the task ended", () => {
  const SKIP = { code: 'task_ended', message: 'the task ended before this company was bought' };
  const candidate = (id: string, rank: number, chosen: boolean) => ({
    companyId: id, rank, name: `Co ${id}`, industry: 'battery', city: 'Hefei', price: 1234 * rank, relevance: 1, chosen,
    decision: { action: chosen ? ('buy' as const) : ('skip' as const), reason: 'ranked', by: 'rules' as const }, basic: {},
  });
  /** A task in its report stage: c1 bought, c2 and c3 chosen and never bought, c4 not chosen at search. */
  const closingTask = async (webhookUrl: string | null = null) => {
    const taskId = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'battery', budgetLimit: 50_000 });
    await h.repos.companies.saveCandidates(taskId, [candidate('c3', 3, true), candidate('c1', 1, true), candidate('c4', 4, false), candidate('c2', 2, true)]);
    expect(await h.repos.companies.settle(taskId, 'c1', 'bought', { receiptId: 'rcpt_1' })).toBe(true);
    await h.database.db.updateTable('tasks').set({ webhook_url: webhookUrl }).where('id', '=', taskId).execute();
    await h.repos.tasks.enterStage(taskId, 'report');
    return { taskId, head: (await h.repos.events.since(taskId, 0)).length };
  };
  const close = { skip: SKIP, foreign: [{ chargeId: 'ch_thief', amount: 750 }], status: 'completed' as const };
  const told = async (taskId: string, after: number) => (await h.repos.events.since(taskId, after)).map((e) => ({ type: e.type, data: e.data }));
  const endState = async (taskId: string) => {
    const t = (await h.repos.tasks.get(taskId))!;
    const companies = (await h.repos.companies.list(taskId)).map((c) => [c.company_id, c.status, c.error_code, c.error_message]);
    return { status: t.status, stage: t.stage, ended: t.ended_at !== null, error: t.error_code, foreign: t.foreign_charged, companies };
  };

  it('tells what the separate writes told, in their order, with consecutive seqs and `ended` last; racing and retried closings tell each once', async () => {
    // The separate writes the report stage made before (closeTaskMoney's last two, save, end)…
    const apart = await closingTask();
    await h.repos.companies.skipUnsettled(apart.taskId, SKIP);
    await h.repos.tasks.noteForeignCharges(apart.taskId, close.foreign);
    await h.repos.reports.save(apart.taskId, '# report', 'offline');
    expect(await h.repos.tasks.end(apart.taskId, 'completed')).toBe(true);
    const expected = await told(apart.taskId, apart.head);
    expect(expected.map((e) => e.type)).toEqual(['decision', 'decision', 'foreign_charge', 'report_ready', 'ended']);

    // …and the one statement, three of them racing (a redelivered report job), then a retry.
    const one = await closingTask();
    const raced = await Promise.all(['# one', '# two', '# three'].map((markdown) => h.repos.reports.saveAndClose(one.taskId, { markdown, writer: 'offline' }, close)));
    expect(raced.filter((r) => r.ended)).toHaveLength(1);
    expect(await h.repos.reports.saveAndClose(one.taskId, { markdown: '# report', writer: 'offline' }, close)).toEqual({ ended: false, deliveries: [] });

    expect(await told(one.taskId, one.head)).toEqual(expected);
    expect((await told(one.taskId, one.head)).map((e) => e.data.companyId ?? null)).toEqual(['c2', 'c3', null, null, null]);
    const story = await h.repos.events.since(one.taskId, 0);
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    expect((await h.repos.events.heads([one.taskId])).get(one.taskId)).toBe(story.length);
    expect(await endState(one.taskId)).toEqual(await endState(apart.taskId));
    expect(await endState(one.taskId)).toMatchObject({ status: 'completed', stage: null, ended: true, foreign: 750 });
    expect(await h.repos.reports.get(one.taskId)).toEqual({ markdown: '# report', writer: 'offline' });
  });

  it('a task that ended first keeps its outcome: the report is stored and told, the end is not told again, no delivery is written', async () => {
    const { taskId, head } = await closingTask('https://hooks.example.com/arp');
    const first = await h.repos.tasks.endTelling(taskId, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' });
    expect(first?.deliveries).toHaveLength(1);
    const closed = await h.repos.reports.saveAndClose(taskId, { markdown: '# late', writer: 'offline' }, { ...close, foreign: [] });
    expect(closed).toEqual({ ended: false, deliveries: [] });
    expect((await told(taskId, head)).map((e) => e.type)).toEqual(['ended', 'decision', 'decision', 'report_ready']);
    expect(await endState(taskId)).toMatchObject({ status: 'cancelled', error: 'cancelled', foreign: 0 });
    expect(await h.repos.reports.get(taskId)).toEqual({ markdown: '# late', writer: 'offline' });
    expect((await h.repos.webhooks.forTask(taskId)).map((d) => Number(d.id))).toEqual(first!.deliveries);
  });

  it('writes the webhook delivery with the end and answers with its id; without a token nothing is noted of foreign charges', async () => {
    const { taskId } = await closingTask('https://hooks.example.com/arp');
    await h.database.db.updateTable('tasks').set({ foreign_charged: 300 }).where('id', '=', taskId).execute();
    const closed = await h.repos.reports.saveAndClose(taskId, { markdown: '# report', writer: 'offline' }, { ...close, foreign: null });
    const deliveries = await h.repos.webhooks.forTask(taskId);
    expect(deliveries.map((d) => [d.state, d.event])).toEqual([['pending', 'task.ended']]);
    expect(closed).toEqual({ ended: true, deliveries: [Number(deliveries[0]!.id)] });
    expect((await h.repos.events.since(taskId, 0)).filter((e) => e.type === 'foreign_charge')).toEqual([]);
    expect((await h.repos.tasks.get(taskId))!.foreign_charged).toBe(300);
  });

  it('racing an end of another outcome: one of them ends the task, told once, and the report is kept either way', async () => {
    const { taskId } = await closingTask();
    const [closed, ended] = await Promise.all([
      h.repos.reports.saveAndClose(taskId, { markdown: '# report', writer: 'offline' }, close),
      h.repos.tasks.end(taskId, 'failed', { code: 'x', message: 'y' }),
    ]);
    expect(closed.ended !== ended).toBe(true);
    const ends = (await h.repos.events.since(taskId, 0)).filter((e) => e.type === 'ended');
    expect(ends.map((e) => e.data.status)).toEqual([(await h.repos.tasks.get(taskId))!.status]);
    expect((await h.repos.reports.get(taskId))?.markdown).toBe('# report');
  });
});
