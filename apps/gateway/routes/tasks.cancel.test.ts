import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, postTask, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * POST /v1/tasks/:id/cancel (DESIGN.md §5): 202 while the task runs or waits (the cancel is recorded
 * and shown), 409 task_already_ended once it has ended, 404 for what is not the caller's task.
 */
describe('POST /v1/tasks/:id/cancel', () => {
  let h: Harness;
  const body = (theme: string) => ({ theme, budget: '30.00', voiceId: 'demo-voice' });
  const other = { authorization: 'Bearer other-key' };

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const cancel = (id: string, headers: Record<string, string> = {}) => h.api(`/v1/tasks/${id}/cancel`, { method: 'POST', headers });
  const read = async (id: string) => (await (await h.api(`/v1/tasks/${id}`)).json()) as any;

  it('answers 202 for a queued task and records the cancel, which GET then shows', async () => {
    const id = await postTask(h, body('cancel me'));
    expect((await read(id)).cancelRequested).toBeUndefined();
    const res = await cancel(id);
    expect(res.status).toBe(202);
    const view = (await res.json()) as any;
    expect(view.id).toBe(id);
    expect(view.cancelRequested).toBe(true);
    const task = await read(id);
    expect(task.cancelRequested).toBe(true);
    // Nothing was spent; no worker has picked it up, so it has not ended yet.
    expect(task.status).toBe('queued');
    expect(task.budget).toMatchObject({ spent: '0.00', reserved: '0.00' });
  });

  it('answers 202 for a running task', async () => {
    const id = await postTask(h, body('running'));
    await h.repos.tasks.enterStage(id, 'detail');
    expect((await read(id)).status).toBe('running');
    expect((await cancel(id)).status).toBe(202);
    expect((await read(id)).cancelRequested).toBe(true);
  });

  it('answers 202 again when the cancel is repeated before the task has ended', async () => {
    const id = await postTask(h, body('cancel twice'));
    expect((await cancel(id)).status).toBe(202);
    expect((await cancel(id)).status).toBe(202);
    expect((await read(id)).cancelRequested).toBe(true);
  });

  it.each(['completed', 'failed', 'cancelled'] as const)('answers 409 task_already_ended once the task is %s, and changes nothing', async (status) => {
    const id = await postTask(h, body(`ended ${status}`));
    expect(await h.repos.tasks.end(id, status)).toBe(true);
    const before = await read(id);
    await expectProblem(await cancel(id), 409, 'task_already_ended');
    const after = await read(id);
    expect(after.status).toBe(status);
    expect(after.cancelRequested).toBeUndefined();
    expect(after.updatedAt).toBe(before.updatedAt);
  });

  it('answers 409 for a task that was asked to cancel and has since been cancelled', async () => {
    const id = await postTask(h, body('cancelled for good'));
    expect((await cancel(id)).status).toBe(202);
    await h.repos.tasks.end(id, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' });
    await expectProblem(await cancel(id), 409, 'task_already_ended');
    const task = await read(id);
    expect(task.status).toBe('cancelled');
    // Once cancelled, the view says so through its status alone.
    expect(task.cancelRequested).toBeUndefined();
  });

  it('answers 404 problem for an unknown task', async () => {
    await expectProblem(await cancel('6f1c2a4e-8a4b-4c1e-9d7e-0e6f7a1b2c3d'), 404, 'not_found');
  });

  it('answers 404 problem for an id that is not a UUID', async () => {
    await expectProblem(await cancel('not-a-uuid'), 404, 'not_found');
  });

  it("answers 404 for another tenant's task and leaves that task alone", async () => {
    const id = await postTask(h, body('not yours to cancel'));
    const problem = await expectProblem(await cancel(id, other), 404, 'not_found');
    expect(JSON.stringify(problem)).not.toContain('not yours to cancel');
    const task = await read(id);
    expect(task.cancelRequested).toBeUndefined();
    expect(task.status).toBe('queued');
  });

  it("answers 404, not 409, for another tenant's ended task", async () => {
    const id = await postTask(h, body('ended, not yours'));
    await h.repos.tasks.end(id, 'completed');
    await expectProblem(await cancel(id, other), 404, 'not_found');
  });
});
