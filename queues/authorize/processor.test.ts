import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../shared/errors.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { statementsOf } from '../../test/support/statements.ts';
import type { JobContext, StageDeps } from '../deps.ts';
import { jobId } from '../options.ts';
import { processSearch } from '../search/processor.ts';
import { processAuthorize } from './processor.ts';

const first: JobContext = { attempt: 1, isFinalAttempt: false };

/** A task that has searched (and so has companies chosen), ready for authorize. */
async function searchedTask(h: Harness, body: Record<string, unknown>): Promise<string> {
  const id = await postTask(h, body);
  await processSearch({ taskId: id }, h.deps, first);
  return id;
}

async function events(h: Harness, taskId: string) {
  return h.database.db.selectFrom('task_events').select(['kind', 'data']).where('task_id', '=', taskId).orderBy('seq').execute();
}

/** A task's story: seq, type, and for a stage event the stage. */
async function storyOf(h: Harness, taskId: string) {
  return (await h.repos.events.since(taskId, 0)).map((e) => ({ seq: e.seq, type: e.type, ...(e.type === 'stage' ? { stage: e.data.stage } : {}) }));
}

/** The stage's deps with the issuer's createToken doing `instead` (given the real one) in its place. */
function issuerDoing(h: Harness, instead: (real: () => Promise<unknown>) => Promise<unknown>): StageDeps {
  const issuer = h.deps.providers.issuer;
  const createToken = (...args: Parameters<typeof issuer.createToken>) => instead(() => issuer.createToken(...args));
  return { ...h.deps, providers: { ...h.deps.providers, issuer: Object.assign(Object.create(issuer) as typeof issuer, { createToken }) } };
}

/** The detail jobs queued for a task (waiting children of its report). */
async function detailJobsOf(h: Harness, taskId: string) {
  const jobs = await h.producer.queues.detail.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'waiting-children', 'completed', 'failed']);
  return jobs.filter((j) => j.data.taskId === taskId);
}

describe('authorize processor: voice check, budget-limited token, detail fan-out', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('verifies the voice, opens a token for the budget bound to the marketplace, and queues the flow', async () => {
    const id = await searchedTask(h, { theme: 'battery', budget: '45.50', voiceId: 'demo-voice', maxCompanies: 3 });
    const chosen = await h.repos.companies.chosen(id);
    expect(chosen.length).toBeGreaterThan(0);

    const out = await processAuthorize({ taskId: id }, h.deps, first);

    const voice = (await events(h, id)).filter((e) => e.kind === 'voice_checked');
    expect(voice).toHaveLength(1);
    expect(voice[0]!.data).toMatchObject({ verified: true });

    const tokens = await h.deps.providers.issuer.tokensFor(id);
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;
    expect(token).toMatchObject({ limit: 4550, balance: 4550, spent: 0, currency: 'CNY', merchantId: 'marketplace', reference: id, status: 'active', charges: [] });
    expect(new Date(token.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const task = (await h.repos.tasks.get(id))!;
    expect(h.repos.tasks.tokenOf(task)).toBe(token.id);
    // At rest it is sealed, bound to this task; what finance sees is the hint.
    expect(task.token_id).not.toContain(token.id);
    expect(task.token_hint).toBe(`tok_…${token.id.slice(-2)}`);
    expect(task.status).toBe('running');
    expect(task.stage).toBe('detail');
    expect(task.reserved).toBe(0);
    // The return value is shown in Bull Board: it must not carry the token id (a spending credential).
    expect(out).toEqual({ companies: chosen.length });
    expect(JSON.stringify(out)).not.toContain(token.id);

    // The fan-out: the report waits for one detail child per chosen company.
    const report = await h.producer.queues.report.getJob(`report-${id}`);
    expect(report).toBeDefined();
    expect(report!.data).toEqual({ taskId: id });
    expect(await report!.getState()).toBe('waiting-children');
    const deps = await report!.getDependencies();
    const expectedChildren = chosen.map((c) => `${h.producer.prefix}:detail:${jobId.detail(id, c.company_id)}`);
    expect([...(deps.unprocessed ?? [])].sort()).toEqual([...expectedChildren].sort());
    const details = await detailJobsOf(h, id);
    expect(details.map((j) => j.id).sort()).toEqual(chosen.map((c) => jobId.detail(id, c.company_id)).sort());
    for (const j of details) {
      expect(j.id).toMatch(/^detail-/);
      expect(j.data).toEqual({ taskId: id, companyId: expect.any(String) });
      expect(j.parentKey).toBe(`${h.producer.prefix}:report:report-${id}`);
    }
  });

  it('costs Postgres two statements, one writing: the token, the voice check and the token in the story, and the move into detail together', async () => {
    const id = await searchedTask(h, { theme: 'battery', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const before = await storyOf(h, id);
    const { result, statements, transactions } = await statementsOf(() => processAuthorize({ taskId: id }, h.deps, first));
    // Entering the stage (a read: search moved the task into it); then the one statement.
    if (h.database.kind === 'postgres') expect({ statements, transactions }).toEqual({ statements: 2, transactions: 0 });
    const chosen = await h.repos.companies.chosen(id);
    expect(result).toEqual({ companies: chosen.length });
    const head = before.length;
    expect((await storyOf(h, id)).slice(head)).toEqual([
      { seq: head + 1, type: 'voice_checked' },
      { seq: head + 2, type: 'token_issued' },
      { seq: head + 3, type: 'stage', stage: 'detail' },
    ]);
    expect((await h.repos.events.heads([id])).get(id)).toBe(head + 3);
    expect((await detailJobsOf(h, id)).map((j) => j.data.companyId).sort()).toEqual(chosen.map((c) => c.company_id).sort());
  });

  it('a cancel asked for while the token is opened (by two runs at once): the token is kept (and closed with the task), told once, and nothing is queued', async () => {
    const id = await searchedTask(h, { theme: 'robotics', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const cancelling = issuerDoing(h, async (real) => {
      await h.repos.tasks.requestCancel(id, 'acme');
      return real();
    });
    const outs = await Promise.all([processAuthorize({ taskId: id }, cancelling, first), processAuthorize({ taskId: id }, cancelling, first)]);
    expect(outs).toContainEqual({ stopped: 'cancelled' });
    const tokens = await h.deps.providers.issuer.tokensFor(id);
    expect(tokens).toHaveLength(1);
    const task = (await h.repos.tasks.get(id))!;
    expect(h.repos.tasks.tokenOf(task)).toBe(tokens[0]!.id);
    expect(tokens[0]!.status).not.toBe('active');
    expect(task).toMatchObject({ status: 'cancelled', stage: null });
    const story = await storyOf(h, id);
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    expect(story.filter((e) => e.type === 'voice_checked' || e.type === 'token_issued').map((e) => e.type)).toEqual(['voice_checked', 'token_issued']);
    expect(story.filter((e) => e.type === 'stage').map((e) => e.stage)).toEqual(['search', 'authorize']);
    expect(await detailJobsOf(h, id)).toEqual([]);
    expect(await h.producer.queues.report.getJob(`report-${id}`)).toBeUndefined();
  });

  it('two runs at once (a stalled job redelivered): one token, the voice check and the token told once, one fan-out', async () => {
    const id = await searchedTask(h, { theme: 'solar', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await Promise.all([processAuthorize({ taskId: id }, h.deps, first), processAuthorize({ taskId: id }, h.deps, first)]);
    const tokens = await h.deps.providers.issuer.tokensFor(id);
    expect(tokens).toHaveLength(1);
    expect(h.repos.tasks.tokenOf((await h.repos.tasks.get(id))!)).toBe(tokens[0]!.id);
    const story = await storyOf(h, id);
    expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
    expect(story.filter((e) => ['voice_checked', 'token_issued', 'stage'].includes(e.type)).slice(-3)).toEqual([
      expect.objectContaining({ type: 'voice_checked' }),
      expect.objectContaining({ type: 'token_issued' }),
      expect.objectContaining({ type: 'stage', stage: 'detail' }),
    ]);
    expect(story.filter((e) => e.type === 'voice_checked')).toHaveLength(1);
    expect(story.filter((e) => e.type === 'token_issued')).toHaveLength(1);
    const chosen = await h.repos.companies.chosen(id);
    expect((await detailJobsOf(h, id)).map((j) => j.id).sort()).toEqual(chosen.map((c) => jobId.detail(id, c.company_id)).sort());
  });

  it('an issuer refusing the token for good: the story still says the voice was checked, and no token is kept', async () => {
    const id = await searchedTask(h, { theme: 'biotech', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const refusing = issuerDoing(h, async () => {
      throw new PermanentError('token_refused', 'the issuer refused the token');
    });
    await expect(processAuthorize({ taskId: id }, refusing, first)).rejects.toMatchObject({ code: 'token_refused' });
    expect((await events(h, id)).filter((e) => e.kind === 'voice_checked').map((e) => e.data)).toEqual([expect.objectContaining({ verified: true })]);
    expect((await h.repos.tasks.get(id))!).toMatchObject({ token_id: null, stage: 'authorize' });
    expect(await detailJobsOf(h, id)).toEqual([]);
  });

  it('opens no second token and queues no second flow when delivered again', async () => {
    const id = await searchedTask(h, { theme: 'semiconductor', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await processAuthorize({ taskId: id }, h.deps, first);
    const tokenId = h.repos.tasks.tokenOf((await h.repos.tasks.get(id))!);
    expect(tokenId).not.toBeNull();
    const detailsBefore = (await detailJobsOf(h, id)).map((j) => j.id).sort();

    await processAuthorize({ taskId: id }, h.deps, first);

    const tokens = await h.deps.providers.issuer.tokensFor(id);
    expect(tokens.map((t) => t.id)).toEqual([tokenId]);
    expect(h.repos.tasks.tokenOf((await h.repos.tasks.get(id))!)).toBe(tokenId);
    expect((await h.repos.tasks.get(id))!.stage).toBe('detail');
    expect((await detailJobsOf(h, id)).map((j) => j.id).sort()).toEqual(detailsBefore);
    const report = await h.producer.queues.report.getJob(`report-${id}`);
    expect(await report!.getState()).toBe('waiting-children');
    expect(await report!.getDependenciesCount()).toMatchObject({ unprocessed: detailsBefore.length });
  });

  it('finds the same token again after a crash between opening it and storing its id', async () => {
    const id = await searchedTask(h, { theme: 'logistics', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await processAuthorize({ taskId: id }, h.deps, first);
    const tokenId = h.repos.tasks.tokenOf((await h.repos.tasks.get(id))!)!;
    // As if the worker died after the issuer answered but before the id reached Postgres.
    await h.database.db.updateTable('tasks').set({ token_id: null, stage: 'authorize' }).where('id', '=', id).execute();

    await processAuthorize({ taskId: id }, h.deps, first);

    expect((await h.deps.providers.issuer.tokensFor(id)).map((t) => t.id)).toEqual([tokenId]);
    expect(h.repos.tasks.tokenOf((await h.repos.tasks.get(id))!)).toBe(tokenId);
  });

  it('fails for good with voice_not_verified for a voice that is not enrolled, opening no token', async () => {
    const id = await searchedTask(h, { theme: 'biotech', budget: '30.00', voiceId: 'mallory-voice' });
    expect((await h.repos.companies.chosen(id)).length).toBeGreaterThan(0);

    const err = await processAuthorize({ taskId: id }, h.deps, first).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('voice_not_verified');
    expect(await h.deps.providers.issuer.tokensFor(id)).toEqual([]);
    const task = (await h.repos.tasks.get(id))!;
    expect(task.token_id).toBeNull();
    expect(task.stage).toBe('authorize');
    expect((await events(h, id)).filter((e) => e.kind === 'voice_checked').map((e) => e.data)).toEqual([expect.objectContaining({ verified: false })]);
    expect(await h.producer.queues.report.getJob(`report-${id}`)).toBeUndefined();
    expect(await detailJobsOf(h, id)).toEqual([]);
  });
});
