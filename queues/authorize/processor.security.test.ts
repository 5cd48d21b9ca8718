import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../shared/errors.ts';
import { openHarness, postTask, waitFor, waitForEnd, type Harness } from '../../test/support/harness.ts';
import type { JobContext } from '../deps.ts';
import { processSearch } from '../search/processor.ts';
import { processAuthorize } from './processor.ts';

/**
 * Spending consent is the tenant's own voice, for this task and this amount (issue 6, defect 4;
 * DESIGN.md §4 Voice ID). The harness's API keys: `test-key` is tenant `acme`, `other-key` tenant `other`.
 */

const first: JobContext = { attempt: 1, isFinalAttempt: false };
const OTHER = { authorization: 'Bearer other-key' };

/** Waits until tenant `other`'s task has ended and returns its API view (as that tenant sees it). */
async function waitForTheirs(h: Harness, id: string): Promise<any> {
  return waitFor(async () => {
    const task: any = await (await h.api(`/v1/tasks/${id}`, { headers: OTHER })).json();
    return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
  }, `task ${id} to end`);
}

async function voiceEvents(h: Harness, taskId: string) {
  const rows = await h.database.db.selectFrom('task_events').select(['kind', 'data']).where('task_id', '=', taskId).orderBy('seq').execute();
  return rows.filter((r) => r.kind === 'voice_checked').map((r) => r.data);
}

describe("a tenant cannot spend on another tenant's voice", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ workers: 'all', voiceEnrolled: ['demo-voice', 'acme:acme-voice'] });
  });
  afterAll(async () => h?.close());

  it('a voice bound to tenant A verifies A’s task; tenant B using it fails with voice_not_verified and the issuer opens no token', async () => {
    const ours = await postTask(h, { theme: 'battery', budget: '30.00', voiceId: 'acme-voice', maxCompanies: 2 });
    const theirs = await postTask(h, { theme: 'battery', budget: '30.00', voiceId: 'acme-voice', maxCompanies: 2 }, OTHER);

    const mine = await waitForEnd(h, ours);
    expect(mine.status).toBe('completed');
    const tokens = await h.deps.providers.issuer.tokensFor(ours);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ limit: 3000, reference: ours, merchantId: 'marketplace' });

    const task = await waitForTheirs(h, theirs);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('voice_not_verified');
    expect(task.budget.spent).toBe('0.00');
    expect(await h.deps.providers.issuer.tokensFor(theirs)).toEqual([]);
    expect((await h.repos.tasks.get(theirs))!.token_id).toBeNull();
    expect(await voiceEvents(h, theirs)).toEqual([expect.objectContaining({ verified: false })]);
  });

  it('a voice enrolled for everyone still works for every tenant', async () => {
    const theirs = await postTask(h, { theme: 'solar', budget: '20.00', voiceId: 'demo-voice', maxCompanies: 1 }, OTHER);
    expect((await waitForTheirs(h, theirs)).status).toBe('completed');
    expect(await h.deps.providers.issuer.tokensFor(theirs)).toHaveLength(1);
  });
});

describe('a verdict for another tenant, task or amount is not consent', () => {
  type Asked = { voiceId: string; subject?: string; reference: string; amount: string };
  /** What the fixture voice service answers, from what it was asked. */
  let answer: (asked: Asked) => Record<string, unknown>;
  const asked: Asked[] = [];
  let server: Server;
  let h: Harness;

  beforeAll(async () => {
    // A voice service that says `verified: true` to anything, echoing what `answer` makes of the request.
    const app = new Hono().post('/v1/verify', async (c) => {
      const body = (await c.req.json()) as Asked;
      asked.push(body);
      return c.json(answer(body));
    });
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port)) as Server;
    });
    h = await openHarness({ env: { VOICEID_URL: `http://127.0.0.1:${port}` } });
  });
  afterAll(async () => {
    await h?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  async function authorize(budget = '30.00') {
    const id = await postTask(h, { theme: 'semiconductor', budget, voiceId: 'demo-voice', maxCompanies: 2 });
    await processSearch({ taskId: id }, h.deps, first);
    const outcome = await processAuthorize({ taskId: id }, h.deps, first).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { id, outcome };
  }

  it('sends the tenant as subject, the task id as reference and the budget as a decimal string', async () => {
    answer = (a) => ({ verified: true, score: 0.97, subject: a.subject, reference: a.reference, amount: Number(a.amount) });
    asked.length = 0;
    const { id, outcome } = await authorize('30.00');
    expect(asked).toEqual([{ voiceId: 'demo-voice', subject: 'acme', reference: id, amount: '30.00' }]);
    // An honest echo (the amount equal by value: 30 is 30.00) is consent: the token is opened.
    expect(outcome).toBeUndefined();
    expect(await h.deps.providers.issuer.tokensFor(id)).toHaveLength(1);
    expect(await voiceEvents(h, id)).toEqual([{ verified: true, score: 0.97 }]);
  });

  it.each([
    ['another subject', (a: Asked) => ({ verified: true, score: 0.97, subject: 'other', reference: a.reference, amount: a.amount }), ['subject']],
    ['no subject', (a: Asked) => ({ verified: true, score: 0.97, subject: null, reference: a.reference, amount: a.amount }), ['subject']],
    ['another task', (a: Asked) => ({ verified: true, score: 0.97, subject: a.subject, reference: 'a-different-task', amount: a.amount }), ['reference']],
    ['another amount', (a: Asked) => ({ verified: true, score: 0.97, subject: a.subject, reference: a.reference, amount: '3000.00' }), ['amount']],
    ['an amount that is not one', (a: Asked) => ({ verified: true, score: 0.97, subject: a.subject, reference: a.reference, amount: 'lots' }), ['amount']],
    ['no echo at all (an old service)', () => ({ verified: true, score: 0.97 }), ['subject', 'reference', 'amount']],
  ])('refuses a verified answer for %s: voice_not_verified, no token', async (_what, make, mismatch) => {
    answer = make as (a: Asked) => Record<string, unknown>;
    const { id, outcome } = await authorize();
    expect(outcome).toBeInstanceOf(PermanentError);
    expect((outcome as PermanentError).code).toBe('voice_not_verified');
    expect(await h.deps.providers.issuer.tokensFor(id)).toEqual([]);
    expect((await h.repos.tasks.get(id))!.token_id).toBeNull();
    expect(await voiceEvents(h, id)).toEqual([{ verified: false, score: 0.97, mismatch }]);
  });
});
