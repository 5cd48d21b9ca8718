import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, FROM, WITH_OPERATOR } from '../../test/support/admin.ts';
import { holdToContract } from '../../test/support/conformance.ts';
import { API_KEY, openHarness, waitFor, type Harness } from '../../test/support/harness.ts';
import { OpenApiContract } from '../../test/support/openapi.ts';
import { expectProblem } from '../../test/support/problem.ts';
import { GatewayClient, GatewayProblem, type TaskView } from './client.ts';

const valid = { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' };

/** Runs a call that must fail and returns its GatewayProblem. */
async function problemOf(call: Promise<unknown>): Promise<GatewayProblem> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayProblem);
  return err as GatewayProblem;
}

/**
 * The running gateway answers as its OpenAPI document says (issue 12). The harness holds every answer
 * of a documented operation to the document the app serves (test/support/conformance.ts): a field the
 * document lacks, a wrong type or format, an undocumented status, content type or error code makes
 * the call throw. This file drives every operation through its answers — with the typed client
 * (client.ts) end to end, a task from submission to report — and then checks it saw them all.
 */
describe('the gateway answers as its OpenAPI document says', () => {
  let h: Harness;
  let client: GatewayClient;

  beforeAll(async () => {
    h = await openHarness({ workers: 'all', env: { ...WITH_OPERATOR, AUTH_FAILURE_LIMIT: '2' } });
    client = new GatewayClient({ baseUrl: 'http://gateway.test', token: API_KEY, fetch: (url, init) => h.app.request(url, init) });
  });
  afterAll(async () => {
    await h?.close();
  });

  const ended = (id: string, as = client) =>
    waitFor(async () => {
      const task = await as.getTask(id);
      return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
    }, `task ${id} to end`);

  it('takes a task from submission to report through the typed client', async () => {
    const created = await client.createTask({ ...valid, maxCompanies: 2 }, { idempotencyKey: 'conformance-1' });
    expect(created.task.status).toBe('queued');
    expect(created.location).toBe(`/v1/tasks/${created.task.id}`);
    expect(created.replayed).toBe(false);

    const again = await client.createTask({ ...valid, maxCompanies: 2 }, { idempotencyKey: 'conformance-1' });
    expect(again).toMatchObject({ replayed: true, task: { id: created.task.id } });
    const conflict = await problemOf(client.createTask({ ...valid, budget: 60 }, { idempotencyKey: 'conformance-1' }));
    expect(conflict).toMatchObject({ status: 422, code: 'idempotency_conflict' });

    const task: TaskView = await ended(created.task.id);
    expect(task.status).toBe('completed');
    expect(task.companies.some((c) => c.status === 'bought')).toBe(true);

    expect(await client.report(task.id)).toMatch(/^# /);
    expect(await client.report(task.id, 'html')).toMatch(/^<!doctype html>/i);
    const payments = await client.payments(task.id);
    expect(payments.payments.length).toBeGreaterThan(0);
    expect(payments.ledger.map((l) => l.kind)).toContain('capture');
    const usage = await waitFor(async () => {
      const u = await client.taskUsage(task.id);
      return u.events > 0 ? u : undefined;
    }, 'the dashboard to count the task');
    expect(usage.spent).toBe(task.budget.spent);
    expect((await client.usage()).data.length).toBeGreaterThan(0);

    // Its story: as one JSON page, and as the stream the typed client reads (the same events, in order).
    const page = await client.taskEvents(task.id);
    expect(page).toMatchObject({ taskId: task.id, ended: true, lastSeq: page.data.length });
    const streamed = [];
    for await (const e of client.events(task.id)) streamed.push(e);
    expect(streamed).toEqual(page.data);
    expect((await client.taskEvents(task.id, { after: page.lastSeq })).data).toEqual([]);
    expect(await client.webhooks(task.id)).toEqual({ taskId: task.id, data: [] });

    const ended409 = await problemOf(client.cancelTask(task.id));
    expect(ended409).toMatchObject({ status: 409, code: 'task_already_ended' });
  });

  it('pages through the list with the cursor it returns', async () => {
    await client.createTask({ ...valid, theme: 'logistics robots' });
    const first = await client.listTasks({ limit: 1 });
    expect(first.data).toHaveLength(1);
    expect(first.nextCursor).toBeDefined();
    const second = await client.listTasks({ limit: 1, cursor: first.nextCursor });
    expect(second.data[0]!.id).not.toBe(first.data[0]!.id);
    const all = [];
    for await (const t of client.tasks(1)) all.push(t.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(2);
  });

  it('answers the refusals of each operation as documented problems', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const stranger = new GatewayClient({ baseUrl: 'http://gateway.test', token: 'wrong', fetch: (u, i) => h.app.request(u, i) });
    for (const call of [() => stranger.getTask(unknown), () => stranger.listTasks(), () => stranger.usage(), () => stranger.createTask(valid)]) {
      expect(await problemOf(call())).toMatchObject({ status: 401, code: 'unauthorized' });
    }
    const calls = [() => client.getTask(unknown), () => client.getTask('not-a-uuid'), () => client.cancelTask(unknown), () => client.report(unknown), () => client.payments(unknown), () => client.taskUsage(unknown), () => client.taskEvents(unknown), () => client.webhooks(unknown)];
    for (const call of calls) expect(await problemOf(call())).toMatchObject({ status: 404, code: 'not_found' });
    const invalid = await problemOf(client.createTask({ ...valid, budget: 0, colour: 'red' } as never));
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(invalid.errors.map((e) => e.path).sort()).toEqual(['budget', 'colour']);
    expect(await problemOf(client.createTask(valid, { idempotencyKey: 'has space' }))).toMatchObject({ status: 400, errors: [expect.objectContaining({ path: 'Idempotency-Key' })] });
    expect(await problemOf(client.listTasks({ limit: 0 }))).toMatchObject({ status: 400, code: 'validation_failed', errors: [expect.objectContaining({ path: 'limit' })] });
    expect(await problemOf(client.listTasks({ cursor: 'forged' }))).toMatchObject({ status: 400, errors: [expect.objectContaining({ path: 'cursor' })] });
    await expectProblem(await h.api('/v1/tasks', { method: 'POST', body: '{"theme":' }), 400, 'invalid_json');
    await expectProblem(await h.api('/v1/tasks', { method: 'POST', body: JSON.stringify(valid), headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    await expectProblem(await h.api('/v1/tasks', { body: { ...valid, theme: 'x'.repeat(100_000) } }), 413, 'payload_too_large');
    await expectProblem(await h.api(`/v1/tasks/${unknown}/cancel`, { method: 'POST', body: 'x'.repeat(100_000) }), 413, 'payload_too_large');

    // A task refused its voice fails: its report is never ready, and it cannot be cancelled.
    const failed = await ended((await client.createTask({ ...valid, voiceId: 'nobody-voice' })).task.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'voice_not_verified' } });
    expect(await problemOf(client.report(failed.id))).toMatchObject({ status: 409, code: 'report_not_ready' });
    expect(await problemOf(client.cancelTask(failed.id))).toMatchObject({ status: 409, code: 'task_already_ended' });

    const running = await client.createTask({ ...valid, theme: 'semiconductor fabs' });
    const cancelled = await client.cancelTask(running.task.id);
    expect(cancelled.id).toBe(running.task.id);
    await ended(running.task.id);
  });

  it("answers a tenant's spending policy and a throttled address as documented problems", async () => {
    expect((await admin(h, '/admin/tenants/other/policy', { method: 'PUT', body: { maxBudget: '10.00', tasksPerMinute: 1 } })).status).toBe(200);
    const other = new GatewayClient({ baseUrl: 'http://gateway.test', token: 'other-key', fetch: (u, i) => h.app.request(u, i) });
    expect(await problemOf(other.createTask({ ...valid, budget: '20.00' }))).toMatchObject({ status: 422, code: 'spending_limit_exceeded', errors: [expect.objectContaining({ path: 'budget' })] });
    await ended((await other.createTask({ ...valid, budget: '5.00' })).task.id, other);
    const limited = await problemOf(other.createTask({ ...valid, budget: '5.00' }));
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(limited.retryAfterSeconds).toBeGreaterThan(0);

    const fromAddress = (key: string) => h.app.request('/v1/tasks', { headers: { authorization: `Bearer ${key}` } }, FROM('203.0.113.9'));
    for (let i = 0; i < 2; i++) await expectProblem(await fromAddress('wrong'), 401, 'unauthorized');
    await expectProblem(await fromAddress(API_KEY), 429, 'rate_limited');
  });

  it('answers the probes as documented', async () => {
    expect(await client.health()).toEqual({ status: 'ok' });
    expect(await client.readiness()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });
  });

  it("answers the tenant's memory as documented: list, read and forget a record, and refuse what is not there", async () => {
    const task: TaskView = await ended((await client.createTask({ ...valid, theme: 'sodium-ion cells' })).task.id);
    const bought = task.companies.find((c) => c.status === 'bought');
    expect(bought).toBeDefined();
    expect((await h.api('/v1/memory/companies')).status).toBe(200);
    expect((await h.api('/v1/memory/companies?q=sodium&limit=5')).status).toBe(200);
    await expectProblem(await h.api('/v1/memory/companies?limit=0'), 400, 'validation_failed');
    expect((await h.api(`/v1/memory/companies/${encodeURIComponent(bought!.id)}`)).status).toBe(200);
    await expectProblem(await h.api('/v1/memory/companies/co_never_bought'), 404, 'not_found');
    expect((await h.api(`/v1/memory/companies/${encodeURIComponent(bought!.id)}`, { method: 'DELETE' })).status).toBe(200);
    await expectProblem(await h.api(`/v1/memory/companies/${encodeURIComponent(bought!.id)}`, { method: 'DELETE' }), 404, 'not_found');
  });

  it('has held every documented operation to the document: each answered a success, each /v1 one a refusal too', async () => {
    const doc = new OpenApiContract(await (await h.app.request('/openapi.json')).json(), 'the gateway document');
    for (const op of doc.operations()) {
      const statuses = [...(h.answers.get(op) ?? [])];
      expect(statuses.filter((s) => s < 300), `${op} answered ${statuses.join(', ') || 'nothing'}`).not.toEqual([]);
      if (op.includes(' /v1/')) expect(statuses.filter((s) => s >= 400), `${op} answered ${statuses.join(', ')}`).not.toEqual([]);
    }
  });
});

/** The checks the harness applies, shown to refuse what does not conform (so a passing suite means something). */
describe('the conformance check', () => {
  let h: Harness;
  let doc: OpenApiContract;
  let task: any;

  beforeAll(async () => {
    h = await openHarness();
    doc = new OpenApiContract(await (await h.app.request('/openapi.json')).json(), 'the gateway document');
    const res = await h.api('/v1/tasks', { body: valid });
    task = await res.json();
  });
  afterAll(async () => {
    await h?.close();
  });

  const answer = (status: number, body: unknown, type = 'application/json') => ({ status, headers: new Headers({ 'content-type': type }), body: JSON.stringify(body) });
  const problem = (status: number, code: string) => answer(status, { type: `urn:arp:error:${code}`, title: 't', status, detail: 'd', code }, 'application/problem+json');

  it('passes a real answer', () => {
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, answer(200, task))).toEqual([]);
  });

  it.each<[string, (t: any) => any]>([
    ['a field the document lacks', (t) => ({ ...t, secret: 'tok_123' })],
    ['money as a number', (t) => ({ ...t, budget: { ...t.budget, limit: 50 } })],
    ['money with three decimals', (t) => ({ ...t, budget: { ...t.budget, limit: '50.000' } })],
    ['a status outside the enum', (t) => ({ ...t, status: 'paused' })],
    ['a missing required field', ({ createdAt: _gone, ...t }) => t],
    ['a timestamp that is not ISO 8601', (t) => ({ ...t, updatedAt: 'yesterday' })],
  ])('refuses a task with %s', (_what, change) => {
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, answer(200, task))).toEqual([]);
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, answer(200, change(task)))).not.toEqual([]);
  });

  it('refuses an undocumented status, an error code the status does not carry, and a wrong content type', () => {
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, problem(409, 'task_already_ended'))).not.toEqual([]);
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, problem(404, 'report_not_ready'))).not.toEqual([]);
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, problem(404, 'not_found'))).toEqual([]);
    expect(doc.responseProblems('GET', `/v1/tasks/${task.id}`, answer(200, task, 'text/html'))).not.toEqual([]);
  });

  it('makes a call held to the document throw on an answer that does not conform, naming it', async () => {
    const served = await (await h.app.request('/openapi.json')).json();
    const drifted = new Hono()
      .get('/openapi.json', (c) => c.json(served))
      .get('/v1/usage', (c) => c.json({ data: [{ day: '2026-11-29', spent: 12 }] }))
      .get('/healthz', (c) => c.json({ status: 'ok' }));
    holdToContract(drifted);
    await expect(drifted.request('/healthz')).resolves.toHaveProperty('status', 200);
    await expect(drifted.request('/v1/usage')).rejects.toThrow(/GET \/v1\/usage → 200: .*spent/);
  });
});
