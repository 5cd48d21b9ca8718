import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../queues/sweeper.ts';
import { verifySignature } from '../../shared/webhooks/send.ts';
import { openHarness, postTask, waitFor, waitForEnd, type Harness } from '../support/harness.ts';
import { expectProblem } from '../support/problem.ts';

const SECRET = 'whsec-test-0123456789abcdef';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  signed: boolean;
  answered: number;
}

/**
 * Signed webhooks (issue 13): a receiver in this test checks every signature with the shared secret; it
 * answers the first attempt of each delivery 503, so each delivery is retried (the queue's backoff, short
 * here) and then accepted once.
 */
describe('webhooks: a task that ends is announced to its webhookUrl, signed, retried until accepted', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  const received: Received[] = [];
  const seen = new Set<string>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const id = String(req.headers['x-webhook-id']);
        // The first attempt of every delivery fails; a retry of it is accepted.
        const answered = seen.has(id) ? 200 : 503;
        seen.add(id);
        received.push({ path: req.url!, headers: req.headers, body, signed: verifySignature(SECRET, req.headers['x-signature'] as string, body), answered });
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    h = await openHarness({
      workers: 'all',
      env: { WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '200', WEBHOOK_TIMEOUT_MS: '2000' },
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const deliveries = async (taskId: string) => (await (await h.api(`/v1/tasks/${taskId}/webhooks`)).json()) as any;
  const delivered = (taskId: string) =>
    waitFor(async () => {
      const d = await deliveries(taskId);
      return d.data[0]?.state === 'delivered' ? d : undefined;
    }, `the webhook of ${taskId}`);

  it('delivers the final task view once, signed, after a failed first attempt; the receiver verifies every signature', async () => {
    const url = `${base}/hooks/arp?token=tenant-side-token`;
    const id = await postTask(h, { theme: 'battery', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2, webhookUrl: url });
    const view = await waitForEnd(h, id);
    expect(view.status).toBe('completed');
    const d = await delivered(id);

    const mine = received.filter((r) => JSON.parse(r.body).id === id);
    expect(mine.map((r) => r.answered)).toEqual([503, 200]);
    for (const r of mine) {
      expect(r.signed).toBe(true);
      expect(r.path).toBe('/hooks/arp?token=tenant-side-token');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-webhook-event']).toBe('task.ended');
      expect(r.headers['x-webhook-id']).toBe(d.data[0].id);
    }
    expect(mine.map((r) => r.headers['x-webhook-attempt'])).toEqual(['1', '2']);
    // Every attempt sends the same bytes: the task's final view, as GET /v1/tasks/:id shows it.
    expect(mine[1]!.body).toBe(mine[0]!.body);
    expect(JSON.parse(mine[0]!.body)).toEqual(await (await h.api(`/v1/tasks/${id}`)).json());

    expect(d).toMatchObject({ taskId: id, data: [{ event: 'task.ended', url, state: 'delivered', attempts: 2, lastStatus: 200, lastError: null }] });
    expect(d.data[0].history.map((a: any) => [a.attempt, a.status])).toEqual([[1, 503], [2, 200]]);
    // Bull Board shows the delivery: its job completed, with the host and the answer — not the URL.
    const job = (await h.producer.queues.webhook.getJob(`webhook-${d.data[0].id}`))!;
    expect(await job.getState()).toBe('completed');
    expect(job.data).toEqual({ deliveryId: Number(d.data[0].id), taskId: id });
    expect(job.returnvalue).toMatchObject({ delivered: true, status: 200, host: new URL(base).host });
    // Delivered means done: the job completed, so no attempt follows (a late one would find it delivered and send nothing).
    expect(received.filter((r) => JSON.parse(r.body).id === id)).toHaveLength(2);
  });

  it('puts no secret in a webhook: no token id, hint or receipt, not the signing secret, no URL in the job', async () => {
    const id = await postTask(h, { theme: 'solar', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2, webhookUrl: `${base}/s` });
    await waitForEnd(h, id);
    await delivered(id);
    const task = (await h.repos.tasks.get(id))!;
    const secrets = [SECRET, h.repos.tasks.tokenOf(task)!, task.token_hint!];
    for (const p of await h.repos.payments.forTask(id)) if (p.receipt) secrets.push(h.repos.payments.receiptOf(p)!);
    const bodies = received.filter((r) => JSON.parse(r.body).id === id);
    const jobs = await h.producer.queues.webhook.getJobs(['completed', 'failed', 'delayed', 'waiting', 'active']);
    const seenText = [...bodies.map((b) => b.body + JSON.stringify(b.headers)), JSON.stringify(jobs.map((j) => [j.data, j.returnvalue, j.failedReason]))].join('\n');
    for (const secret of secrets) expect(seenText).not.toContain(secret);
    expect(JSON.stringify(jobs.map((j) => j.data))).not.toContain(base);
  });

  it('announces failed tasks too, and a delivery whose job was lost is sent by the sweeper', async () => {
    const failed = await postTask(h, { theme: 'biotech', budget: '10.00', voiceId: 'nobody-voice', webhookUrl: `${base}/f` });
    await waitForEnd(h, failed);
    const d = await delivered(failed);
    expect(JSON.parse(received.find((r) => r.headers['x-webhook-id'] === d.data[0].id)!.body)).toMatchObject({ id: failed, status: 'failed', error: { code: 'voice_not_verified' } });

    // A task ended by a process that died before queueing its webhook: the delivery row is there, no job.
    const id = randomUUID();
    await h.repos.tasks.create({
      id, tenant: 'acme', idempotency_key: null, request_hash: null, theme: 'lost', voice_id: 'demo-voice', currency: 'CNY', max_companies: 1,
      status: 'queued', stage: null, budget_limit: 100, token_id: null, error_code: null, error_message: null, ended_at: null, webhook_url: `${base}/lost`,
    });
    await h.repos.tasks.end(id, 'cancelled', { code: 'cancelled', message: 'cancelled by the client' });
    expect((await deliveries(id)).data[0]).toMatchObject({ state: 'pending', attempts: 0 });
    await sweep(h.deps, 0, { retention: false });
    expect((await delivered(id)).data[0]).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('takes webhookUrl only for an allowed host, and counts it in the idempotency hash', async () => {
    const body = { theme: 'fintech', budget: '10.00', voiceId: 'demo-voice' };
    const refused = await expectProblem(await h.api('/v1/tasks', { body: { ...body, webhookUrl: 'https://hooks.elsewhere.test/x' } }), 400, 'validation_failed');
    expect(refused.errors).toEqual([{ path: 'webhookUrl', message: 'host hooks.elsewhere.test is not in WEBHOOK_ALLOWED_HOSTS' }]);
    const notUrl = await expectProblem(await h.api('/v1/tasks', { body: { ...body, webhookUrl: 'not a url' } }), 400, 'validation_failed');
    expect(notUrl.errors[0].path).toBe('webhookUrl');
    const headers = { 'Idempotency-Key': `wh-${randomUUID()}` };
    const first = await h.api('/v1/tasks', { body: { ...body, webhookUrl: `${base}/a` }, headers });
    expect(first.status).toBe(202);
    const again = await h.api('/v1/tasks', { body: { ...body, webhookUrl: `${base}/a` }, headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await expectProblem(await h.api('/v1/tasks', { body: { ...body, webhookUrl: `${base}/b` }, headers }), 422, 'idempotency_conflict');
    await expectProblem(await h.api('/v1/tasks', { body, headers }), 422, 'idempotency_conflict');
    await waitForEnd(h, ((await first.json()) as { id: string }).id);
  });
});
