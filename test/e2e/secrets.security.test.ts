import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { API_KEY, ISSUER_KEY, openHarness, postTask, waitFor, waitForEnd, type Harness } from '../support/harness.ts';

const ADMIN = { authorization: `Basic ${Buffer.from('admin:test-admin').toString('base64')}` };

/**
 * The payment token id is a spending credential and a receipt is a proof of payment (DESIGN.md §3):
 * whoever reads our API, Bull Board, events, logs or error texts must find neither. Tasks run with
 * provider time-outs, 5xx after charges and an issuer that stumbles, so every error path writes its
 * text somewhere; then every place a reader can reach is searched for every secret.
 */
describe('secrets never leave the workers', () => {
  let h: Harness;
  const logLines: string[] = [];
  let ids: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    h = await openHarness({
      workers: 'all',
      logTo: sink,
      issuerProxy: true,
      env: { LOG_LEVEL: 'debug', PROVIDER_TIMEOUT_MS: '700' },
      faults: { pay_timeout: 0.25, timeout_hang_ms: 1_200, pay_5xx_after_charge: 0.2, detail_5xx: 0.2, detail_bad_data: 0.1, seed: 17 },
      issuerFaults: { error_5xx: 0.2, seed: 18 },
    });
    ids = [
      await postTask(h, { theme: 'battery', budget: '60.00', voiceId: 'demo-voice', maxCompanies: 4 }),
      await postTask(h, { theme: 'semiconductor', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 4 }),
      await postTask(h, { theme: 'logistics', budget: '50.00', voiceId: 'demo-voice', maxCompanies: 4 }),
      await postTask(h, { theme: 'biotech', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 3 }),
    ];
    for (const id of ids) await waitForEnd(h, id, 90_000);

    // One more task loses the issuer once it holds its token: the calls that name the token in their
    // path (reading it, closing it) fail as unreachable, and their errors are written and logged.
    const last = await postTask(h, { theme: 'solar', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    ids.push(last);
    await waitFor(async () => ((await h.repos.tasks.get(last))?.token_id ? true : undefined), 'the last task to get its token', 60_000);
    await h.issuerProxy!.cut();
    const report = await waitFor(async () => {
      const job = await h.producer.queues.report.getJob(`report-${last}`);
      return job?.failedReason ? job : undefined;
    }, 'the report job to fail on the unreachable issuer', 30_000);
    expect(report.failedReason).toMatch(/unreachable|timed out|ECONNREFUSED|issuer/);
    await h.issuerProxy!.restore();
    await waitForEnd(h, last, 60_000);
  }, 200_000);
  afterAll(async () => h?.close());

  /** Everything a reader outside the workers can see, each with where it came from. */
  async function everythingVisible(): Promise<Array<[string, string]>> {
    const seen: Array<[string, string]> = [];
    const api = async (path: string, headers?: Record<string, string>) => {
      const res = await h.api(path, headers ? { headers } : {});
      seen.push([`API ${path}`, `${[...res.headers].join('\n')}\n${await res.text()}`]);
    };
    for (const id of ids) {
      // …its story too: the event stream (the task has ended, so it is the whole story and closes) and webhooks.
      for (const sub of ['', '/payments', '/usage', '/report', '/events', '/webhooks']) await api(`/v1/tasks/${id}${sub}`);
    }
    await api('/v1/tasks?limit=100');
    await api('/v1/usage');
    // The tenant's memory: every record, and each one with its fields.
    const memory = (await (await h.api('/v1/memory/companies?limit=100')).json()) as { data: Array<{ companyId: string }> };
    await api('/v1/memory/companies?limit=100');
    for (const r of memory.data) await api(`/v1/memory/companies/${encodeURIComponent(r.companyId)}`);
    for (const path of ['/admin/dashboard', '/admin/dashboard.json', '/metrics']) await api(path, ADMIN);
    for (const queue of QUEUE_NAMES) {
      for (const status of ['completed', 'failed', 'delayed', 'waiting']) await api(`/admin/queues/api/queues?activeQueue=${queue}&status=${status}`, ADMIN);
      // Straight from Redis, too: every job's data, return value, failure reason and stack.
      for (const job of await h.producer.queues[queue].getJobs(['completed', 'failed', 'delayed', 'waiting', 'active', 'waiting-children'])) {
        seen.push([`job ${queue}/${job.id}`, JSON.stringify({ data: job.data, returnvalue: job.returnvalue, failedReason: job.failedReason, stacktrace: job.stacktrace })]);
      }
    }
    const db = h.database.db;
    for (const e of await db.selectFrom('task_events').selectAll().execute()) seen.push([`event ${e.kind}`, JSON.stringify(e)]);
    for (const t of await db.selectFrom('tasks').select(['id', 'error_code', 'error_message']).execute()) seen.push([`task error ${t.id}`, JSON.stringify(t)]);
    for (const c of await db.selectFrom('companies').select(['task_id', 'company_id', 'error_code', 'error_message']).execute()) seen.push([`company error ${c.company_id}`, JSON.stringify(c)]);
    for (const p of await db.selectFrom('payments').select(['id', 'last_error']).execute()) seen.push([`payment error ${p.id}`, JSON.stringify(p)]);
    logLines.forEach((line, i) => seen.push([`log line ${i}`, line]));
    return seen;
  }

  it('no token id, receipt or key appears in an API answer, Bull Board, job, event, error text or log line', async () => {
    const tokens = (await h.database.db.selectFrom('tasks').select(['id', 'token_id']).where('token_id', 'is not', null).execute()).map((t) => h.repos.tasks.tokenOf(t)!);
    const receipts = (await h.database.db.selectFrom('payments').select(['id', 'receipt']).where('receipt', 'is not', null).execute()).map((p) => h.repos.payments.receiptOf(p)!);
    // The run really used tokens and receipts, and really went through error paths.
    expect(tokens.length).toBe(ids.length);
    // …the very ids the issuer knows (so the search below looks for the real credentials).
    const issued = (await Promise.all(ids.map((id) => h.deps.providers.issuer.tokensFor(id)))).flat().map((t) => t.id);
    expect([...tokens].sort()).toEqual([...issued].sort());
    expect(receipts.length).toBeGreaterThan(0);
    const errors = await h.database.db.selectFrom('payments').select('last_error').where('last_error', 'is not', null).execute();
    expect(errors.length).toBeGreaterThan(0);

    const secrets = [...tokens, ...receipts, ISSUER_KEY, API_KEY, 'test-admin'];
    const visible = await everythingVisible();
    expect(visible.filter(([where]) => where.startsWith('log line')).length).toBeGreaterThan(20);
    const leaks = visible.flatMap(([where, text]) => secrets.filter((s) => text.includes(s)).map((s) => `${where} shows ${s.slice(0, 12)}…`));
    expect(leaks).toEqual([]);
  });

  it("the story tells no hint of the token either: finance's hint stays in the payments audit trail", async () => {
    const hints = (await h.database.db.selectFrom('tasks').select('token_hint').where('token_hint', 'is not', null).execute()).map((t) => t.token_hint!);
    expect(hints.length).toBe(ids.length);
    const events = await h.database.db.selectFrom('task_events').select(['kind', 'data']).execute();
    expect(events.filter((e) => e.kind === 'token_issued')).toHaveLength(ids.length);
    for (const id of ids) {
      const story = await (await h.api(`/v1/tasks/${id}/events`)).text();
      for (const hint of hints) expect(story).not.toContain(hint);
    }
    for (const e of events) for (const hint of hints) expect(JSON.stringify(e.data)).not.toContain(hint);
  });

  it('finance still recognises the token by its hint', async () => {
    const audit = (await (await h.api(`/v1/tasks/${ids[0]}/payments`)).json()) as any;
    const token = h.repos.tasks.tokenOf((await h.repos.tasks.get(ids[0]!))!)!;
    expect(audit.tokenHint).toBe(`tok_…${token.slice(-2)}`);
    expect(audit).not.toHaveProperty('tokenId');
  });
});
