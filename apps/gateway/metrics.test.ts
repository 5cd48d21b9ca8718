import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, postTask, waitFor, waitForEnd, type Harness } from '../../test/support/harness.ts';

const admin = { authorization: `Basic ${Buffer.from('admin:test-admin').toString('base64')}` };

/** Reads one sample of a metric (with exactly these labels) from the Prometheus text format. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2]!.split(',');
    if (have.length === want.length && want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('GET /metrics (Prometheus)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
  });
  afterAll(async () => h?.close());

  const scrape = async () => {
    const res = await h.app.request('/metrics', { headers: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };

  it('asks for the admin credentials (it shows money totals)', async () => {
    const res = await h.app.request('/metrics');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('shows tasks by status, the money in each bucket, queue job counts and HTTP traffic by route', async () => {
    const id = await postTask(h, { theme: 'battery', budget: '30.00', voiceId: 'demo-voice' });
    await waitForEnd(h, id);
    const task = (await h.repos.tasks.get(id))!;
    // The report job completes just after the task does: wait for BullMQ to record it.
    const text = await waitFor(async () => {
      const t = await scrape();
      return sample(t, 'arp_queue_jobs', { queue: 'report', state: 'completed' }) === 1 ? t : undefined;
    }, 'the report job to be counted');

    expect(sample(text, 'arp_tasks', { status: 'completed' })).toBe(1);
    expect(sample(text, 'arp_tasks', { status: 'running' })).toBe(0);
    expect(sample(text, 'arp_money_fen', { bucket: 'captured' })).toBe(task.captured);
    expect(sample(text, 'arp_money_fen', { bucket: 'limit' })).toBe(3000);
    expect(sample(text, 'arp_money_fen', { bucket: 'reserved' })).toBe(0);
    expect(sample(text, 'arp_queue_jobs', { queue: 'search', state: 'completed' })).toBe(1);
    expect(sample(text, 'arp_queue_jobs', { queue: 'detail', state: 'failed' })).toBe(0);
    // Routes are labelled by pattern, never by the raw path (task ids would explode the series).
    expect(sample(text, 'arp_http_requests_total', { method: 'POST', route: '/v1/tasks', status: '202' })).toBe(1);
    expect(sample(text, 'arp_http_requests_total', { method: 'GET', route: '/v1/tasks/:id', status: '200' })).toBeGreaterThan(0);
    expect(text).not.toContain(id);
    expect(text).toContain('arp_process_resident_memory_bytes');
  });

  it('adds what the pipeline did in this process (as under npm start): stage jobs, queue waits, provider calls, money moved, tasks ended', async () => {
    // The counters are the process's, shared with the files before this one: compare before and after.
    const before = await scrape();
    const id = await postTask(h, { theme: 'solar', budget: '25.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await waitForEnd(h, id);
    const task = (await h.repos.tasks.get(id))!;
    const after = await waitFor(async () => {
      const t = await scrape();
      return (sample(t, 'arp_job_duration_seconds_count', { queue: 'report', outcome: 'completed' }) ?? 0) > (sample(before, 'arp_job_duration_seconds_count', { queue: 'report', outcome: 'completed' }) ?? 0) ? t : undefined;
    }, 'the report job to be measured');
    const delta = (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);

    expect(task.status).toBe('completed');
    expect(delta('arp_tasks_ended_total', { status: 'completed' })).toBe(1);
    expect(delta('arp_money_moved_fen_total', { kind: 'capture' })).toBe(task.captured);
    expect(task.captured).toBeGreaterThan(0);
    expect(delta('arp_money_moved_fen_total', { kind: 'refund' })).toBe(task.refunded);
    for (const queue of ['search', 'authorize', 'report']) {
      expect(delta('arp_job_duration_seconds_count', { queue, outcome: 'completed' }), queue).toBe(1);
      const seconds = delta('arp_job_duration_seconds_sum', { queue, outcome: 'completed' });
      expect(seconds, queue).toBeGreaterThan(0);
      expect(seconds, queue).toBeLessThan(30);
    }
    expect(delta('arp_job_wait_seconds_count', { queue: 'search' })).toBe(1);
    expect(delta('arp_job_wait_seconds_count', { queue: 'report' })).toBe(0);
    // Histograms are cumulative: a wait below 30 s is in every bucket from there up.
    expect(delta('arp_job_wait_seconds_bucket', { queue: 'search', le: '30' })).toBe(1);
    expect(delta('arp_provider_request_duration_seconds_count', { provider: 'marketplace', operation: 'POST /pay' })).toBeGreaterThan(0);
    expect(delta('arp_provider_request_duration_seconds_count', { provider: 'voiceid', operation: 'POST /v1/verify' })).toBe(1);
    expect(delta('arp_provider_errors_total', { provider: 'marketplace', operation: 'GET /company/detail', code: 'payment_required' })).toBe(0);
    expect(after).not.toContain(id);
  });
});
