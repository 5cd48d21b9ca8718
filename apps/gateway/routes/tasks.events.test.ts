import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvent } from '../../../shared/db/events.ts';
import { openHarness, postTask, runningTask, waitFor, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';
import { emptyRead, readSse } from '../../../test/support/sse.ts';
import { TaskEvent } from '../schemas/events.ts';

/**
 * A task's story as Server-Sent Events (issue 13): replay from any position, the live follow (woken by
 * Redis, caught up from the table when a wake-up is lost), the heartbeat, and the refusals. One harness
 * with every worker; the heartbeat is short so the test does not wait 15 s for one.
 */
describe('GET /v1/tasks/:id/events', () => {
  let h: Harness;
  let taskId: string;
  let story: any[];

  beforeAll(async () => {
    h = await openHarness({ workers: 'all', env: { EVENTS_HEARTBEAT_MS: '150' } });
    taskId = await postTask(h, { theme: 'battery', budget: '60.00', voiceId: 'demo-voice', maxCompanies: 3 });
    // Opened at once: what is stored is replayed, the rest follows live until `ended` closes the stream.
    const res = await h.api(`/v1/tasks/${taskId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const read = await readSse(res, { timeoutMs: 30_000 });
    expect(read.closed).toBe(true);
    story = read.events.map((e) => {
      expect(e.id).toBe(String(e.data.seq));
      expect(e.event).toBe(e.data.type);
      return e.data;
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it("tells the task's whole story in order: created first, each stage, the decisions and the money, ended last", async () => {
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    for (const e of story) {
      expect(TaskEvent.safeParse(e).success, JSON.stringify(e)).toBe(true);
      expect(e.taskId).toBe(taskId);
    }
    const types = story.map((e) => e.type);
    expect(types[0]).toBe('created');
    expect(story.at(-1)).toMatchObject({ type: 'ended', data: { status: 'completed' } });
    expect(story.filter((e) => e.type === 'stage').map((e) => e.data.stage)).toEqual(['search', 'authorize', 'detail', 'report']);
    const candidates = story.find((e) => e.type === 'candidates')!;
    const decisions = story.filter((e) => e.type === 'decision');
    expect(decisions.length).toBeGreaterThanOrEqual(candidates.data.count);
    expect(decisions.filter((d) => d.data.action === 'buy')).toHaveLength(candidates.data.chosen);
    expect(types.indexOf('token_issued')).toBeLessThan(types.indexOf('payment'));
    expect(types.indexOf('report_ready')).toBe(types.length - 2);
  });

  it('shows exactly the money the books hold: one payment event per ledger row, same company, movement and amount', async () => {
    const ledger = await h.repos.payments.ledger(taskId);
    const payments = new Map((await h.repos.payments.forTask(taskId)).map((p) => [p.id, p]));
    const books = ledger.map((l) => `${payments.get(l.payment_id)!.company_id} ${l.kind} ${(l.amount / 100).toFixed(2)}`);
    const told = story.filter((e) => e.type === 'payment').map((e) => `${e.data.companyId} ${e.data.movement} ${e.data.amount}`);
    // The same movements; each company's in the order booked (concurrent purchases commit in story order).
    expect([...told].sort()).toEqual([...books].sort());
    const perCompany = (list: string[]) => [...payments.values()].map((p) => list.filter((m) => m.startsWith(`${p.company_id} `)));
    expect(perCompany(told)).toEqual(perCompany(books));
    expect(told.some((t) => t.includes(' capture '))).toBe(true);
  });

  it('carries no secret: no token id, no hint of one, no receipt', async () => {
    const task = (await h.repos.tasks.get(taskId))!;
    const secrets = [h.repos.tasks.tokenOf(task)!, task.token_hint!];
    for (const p of await h.repos.payments.forTask(taskId)) if (p.receipt) secrets.push(h.repos.payments.receiptOf(p)!);
    expect(secrets.length).toBeGreaterThan(2);
    const raw = await (await h.api(`/v1/tasks/${taskId}/events`)).text();
    const page = await (await h.api(`/v1/tasks/${taskId}/events`, { headers: { accept: 'application/json' } })).text();
    for (const secret of secrets) {
      expect(raw).not.toContain(secret);
      expect(page).not.toContain(secret);
    }
  });

  it('replays from any Last-Event-ID exactly the events after it, in order, then closes', async () => {
    for (let k = 0; k <= story.length; k++) {
      const read = await readSse(await h.api(`/v1/tasks/${taskId}/events`, { headers: { 'Last-Event-ID': String(k) } }));
      expect(read.closed).toBe(true);
      expect(read.events.map((e) => e.data), `after ${k}`).toEqual(story.slice(k));
    }
    // ?after= does the same; the header wins over it (it is what a reconnecting client sends).
    expect((await readSse(await h.api(`/v1/tasks/${taskId}/events?after=3`))).events.map((e) => e.data)).toEqual(story.slice(3));
    const both = await readSse(await h.api(`/v1/tasks/${taskId}/events?after=1`, { headers: { 'Last-Event-ID': '5' } }));
    expect(both.events.map((e) => e.data)).toEqual(story.slice(5));
  });

  it('answers the stored events as one JSON page with Accept: application/json', async () => {
    const res = await h.api(`/v1/tasks/${taskId}/events?after=2`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ taskId, data: story.slice(2), lastSeq: story.length, ended: true });
  });

  it('refuses a position that is not a number or is past the last event (400 naming it), and another tenant (404)', async () => {
    expect((await expectProblem(await h.api(`/v1/tasks/${taskId}/events`, { headers: { 'Last-Event-ID': 'abc' } }), 400, 'validation_failed')).errors[0].path).toBe('Last-Event-ID');
    expect((await expectProblem(await h.api(`/v1/tasks/${taskId}/events?after=-1`), 400, 'validation_failed')).errors[0].path).toBe('after');
    expect((await expectProblem(await h.api(`/v1/tasks/${taskId}/events?after=${story.length + 1}`), 400, 'validation_failed')).errors[0].path).toBe('after');
    await expectProblem(await h.api(`/v1/tasks/${taskId}/events`, { headers: { authorization: 'Bearer other-key' } }), 404, 'not_found');
    await expectProblem(await h.api('/v1/tasks/not-a-task/events'), 404, 'not_found');
  });

  it('follows a task live: what is written reaches every open stream from its own position, with heartbeats between, and ends at `ended`', async () => {
    const id = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'live', budgetLimit: 1_000 });
    const [fromStart, fromTwo] = [emptyRead(), emptyRead()];
    const reading = [
      readSse(await h.api(`/v1/tasks/${id}/events`), { into: fromStart, timeoutMs: 15_000 }),
      readSse(await h.api(`/v1/tasks/${id}/events`, { headers: { 'Last-Event-ID': '2' } }), { into: fromTwo, timeoutMs: 15_000 }),
    ];
    await waitFor(async () => (fromStart.events.length === 2 ? true : undefined), 'the stored events');
    expect(h.eventStreams.size).toEqual({ streams: 2, tasks: 1 });
    // A comment line every EVENTS_HEARTBEAT_MS keeps an idle stream alive.
    await waitFor(async () => (fromTwo.comments.includes('heartbeat') ? true : undefined), 'a heartbeat');

    await h.repos.tasks.addEvent(id, 'voice_checked', { verified: true, score: 0.97 });
    await waitFor(async () => (fromStart.events.length === 3 && fromTwo.events.length === 1 ? true : undefined), 'the live event on both streams');
    // A wake-up that never came (a worker killed between its commit and its publish): the next heartbeat finds it.
    await appendEvent(h.database.db, id, 'cancel_requested', {});
    await waitFor(async () => (fromTwo.events.length === 2 ? true : undefined), 'the event whose wake-up was lost', 5_000);
    await h.repos.tasks.end(id, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' });
    const [all, rest] = await Promise.all(reading);
    expect(all!.closed && rest!.closed).toBe(true);
    expect(all!.events.map((e) => [e.data.seq, e.data.type])).toEqual([[1, 'created'], [2, 'stage'], [3, 'voice_checked'], [4, 'cancel_requested'], [5, 'ended']]);
    expect(rest!.events.map((e) => e.data.seq)).toEqual([3, 4, 5]);
    await waitFor(async () => (h.eventStreams.size.streams === 0 ? true : undefined), 'the streams to be let go');
  });

  it('lets go of a stream its client closed', async () => {
    const id = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'left', budgetLimit: 1_000 });
    const read = await readSse(await h.api(`/v1/tasks/${id}/events`), { until: (r) => r.events.length === 2 });
    expect(read.events).toHaveLength(2);
    await waitFor(async () => (h.eventStreams.size.streams === 0 ? true : undefined), 'the closed stream to be let go');
  });
});
