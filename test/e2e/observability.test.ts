import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMocks, type RunningMocks } from '../../mocks/index.ts';
import { deletePrefix, redisConnection } from '../../queues/connection.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { dropSchema, migrate, openDatabase, repositories, type Db, type Repositories } from '../../shared/db/index.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import { startOtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { programArgs } from '../support/programs.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const API_KEY = 'obs-api-key-0123456789';
const ISSUER_KEY = 'obs-issuer-key-0123456789';
const ADMIN = { authorization: `Basic ${Buffer.from('admin:obs-admin-password').toString('base64')}` };

/** One program of the product, started as operators start it, its stdout read line by line (JSON). */
interface Proc {
  name: string;
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  raw: string[];
  exited: Promise<number | null>;
}

function launch(name: string, program: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, programArgs(program, args), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { name, child, lines: [], raw: [], exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop()!;
    for (const line of parts.filter(Boolean)) {
      proc.raw.push(line);
      try {
        proc.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => proc.raw.push(`[stderr] ${d.toString().trimEnd()}`));
  return proc;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, procs: Proc[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${procs.flatMap((p) => p.raw.slice(-8).map((l) => `[${p.name}] ${l}`)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads one sample of a metric (exactly these labels) from the Prometheus text format; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (have.length === want.length && want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

/**
 * Issue 15's proof: the gateway and the stages as separate processes, tracing to an OTLP/HTTP receiver
 * this test runs. One task makes one trace from its POST through every stage, each stage in another
 * process, with the provider and database calls as children of the stage job that made them; every
 * process logs the task's lines with its id and trace id; each worker's port answers probes and shows
 * the pipeline's metrics with the task's figures.
 */
const databaseUrl = inject('databaseUrl');

describe.skipIf(!databaseUrl)('operating the pipeline: one trace per task across processes, task ids on log lines, metrics per process', () => {
  const id = randomBytes(4).toString('hex');
  const schema = `t_obs_${id}`;
  const prefix = `t-obs-${id}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'arp-obs-'));
  const redisUrl = inject('redisUrl');
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let mocks: RunningMocks;
  let database: Db;
  let repos: Repositories;
  let gateway: Proc;
  let workers: Proc[] = [];
  let gatewayUrl: string;
  const workerUrls: Record<string, string> = {};
  let taskId: string;

  // Two worker processes, so that every hop of the task crosses to another process: the POST queues the
  // search (gateway → A), the search queues the authorize (A → B), the authorize adds the detail flow
  // (B → A), whose report parent runs when the children end (A → B).
  const GROUPS = [['search', 'detail', 'dashboard'], ['authorize', 'report']];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    mocks = await startMocks({ issuerApiKey: ISSUER_KEY, receiptSecret: 'obs-receipt-secret', dataDir, faults: {}, only: ['tokenIssuer', 'marketplace', 'voiceid'] });
    database = await openDatabase({ databaseUrl: databaseUrl!, schema, dataDir, poolSize: 2 });
    await migrate(database);
    repos = repositories(database, keyringFrom(undefined));
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl!,
      DATABASE_SCHEMA: schema,
      QUEUE_PREFIX: prefix,
      DATA_DIR: dataDir,
      MARKETPLACE_URL: mocks.urls.marketplace!,
      TOKEN_ISSUER_URL: mocks.urls.tokenIssuer!,
      VOICEID_URL: mocks.urls.voiceid!,
      TOKEN_ISSUER_API_KEY: ISSUER_KEY,
      API_KEYS: `acme:${API_KEY}`,
      ADMIN_PASSWORD: 'obs-admin-password',
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '1000',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    gateway = launch('gateway', 'apps/gateway/main.ts', [], { ...env, PORT: '0' });
    workers = GROUPS.map((stages) => launch(stages.join('+'), 'apps/worker/main.ts', stages, { ...env, WORKER_HTTP_PORT: '0' }));
    const all = [gateway, ...workers];
    const port = await until('the gateway to listen', () => gateway.lines.find((l) => l.msg?.toString().startsWith('gateway listening'))?.port as number | undefined, 60_000, all);
    gatewayUrl = `http://127.0.0.1:${port}`;
    for (const w of workers) {
      workerUrls[w.name] = await until(`worker ${w.name} to start`, () => w.lines.find((l) => l.msg === 'worker started')?.http as string | undefined, 60_000, all);
    }

    const res = await fetch(`${gatewayUrl}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ theme: 'battery', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2 }),
    });
    expect(res.status).toBe(202);
    taskId = ((await res.json()) as { id: string }).id;
    await until('the task to end', async () => ['completed', 'failed', 'cancelled'].includes((await repos.tasks.get(taskId))?.status ?? '') || undefined, 60_000, all);
  }, 180_000);

  afterAll(async () => {
    for (const p of [gateway, ...workers]) if (p && p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all([gateway, ...workers].filter(Boolean).map((p) => p.exited)), new Promise((r) => setTimeout(r, 8_000))]);
    for (const p of [gateway, ...workers]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    const redis = redisConnection(redisUrl, 'producer');
    await deletePrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    if (database) {
      await dropSchema(database).catch(() => undefined);
      await database.close();
    }
    await mocks?.close();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The spans of the task's trace, once every stage's have arrived (exporters send in batches). */
  async function taskTrace(): Promise<{ traceId: string; spans: ReceivedSpan[] }> {
    const root = await until('the POST span', () => receiver.spans.find((s) => s.name === 'POST /v1/tasks' && s.attributes['arp.task.id'] === taskId), 20_000);
    const processOf = (queue: string) => (s: ReceivedSpan) => s.traceId === root.traceId && s.name === `process ${queue}`;
    await until('a span of every stage', () => ['search', 'authorize', 'detail', 'report'].every((q) => receiver.spans.some(processOf(q))), 15_000);
    // The report stage ends the task: its span is the last to close; wait for its children's batch too.
    await until('the report stage’s provider call', () => receiver.spans.some((s) => s.traceId === root.traceId && s.name === 'issuer POST /v1/tokens/:id/close'), 15_000);
    return { traceId: root.traceId, spans: receiver.spans.filter((s) => s.traceId === root.traceId) };
  }

  it('makes one trace of the task, from the gateway’s POST through every stage, each in its own process', async () => {
    const task = (await repos.tasks.get(taskId))!;
    expect(task.status).toBe('completed');
    const { spans } = await taskTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const root = spans.find((s) => s.name === 'POST /v1/tasks')!;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.service).toBe('arp-gateway');
    expect(root.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/tasks', 'http.response.status_code': 202, 'arp.task.id': taskId, 'arp.tenant': 'acme', 'arp.task.budget': '40.00' });

    const stageSpans = (queue: string) => spans.filter((s) => s.name === `process ${queue}`);
    const bought = (await repos.companies.list(taskId)).filter((c) => c.status === 'bought');
    expect(bought.length).toBeGreaterThan(0);
    for (const queue of ['search', 'authorize', 'detail', 'report']) {
      expect(stageSpans(queue).length, queue).toBeGreaterThan(0);
      for (const s of stageSpans(queue)) {
        expect(s.attributes).toMatchObject({ 'arp.task.id': taskId, 'arp.stage': queue, 'bullmq.queue.name': queue });
        // Every stage job's span descends from the POST: the context went through Redis with the job.
        let up: ReceivedSpan | undefined = s;
        while (up?.parentSpanId) up = byId.get(up.parentSpanId);
        expect(up, `${queue} reaches the POST`).toBe(root);
      }
    }
    expect(new Set(stageSpans('detail').map((s) => s.attributes['arp.company.id']))).toEqual(new Set((await repos.companies.list(taskId)).filter((c) => c.status !== 'skipped').map((c) => c.company_id)));
    // Three processes, and each stage ran in another process than the one that queued it.
    const instanceOf = (queue: string) => new Set(stageSpans(queue).map((s) => s.instance));
    expect(new Set([root.instance, ...instanceOf('search'), ...instanceOf('authorize')]).size).toBe(3);
    expect(instanceOf('detail')).toEqual(instanceOf('search'));
    expect(instanceOf('report')).toEqual(instanceOf('authorize'));
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['arp-gateway', 'arp-worker']));
  });

  it('puts each provider and database call under the stage job that made it, and the money it moved on the job', async () => {
    const { spans } = await taskTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const stageOf = (s: ReceivedSpan): string | undefined => {
      let up: ReceivedSpan | undefined = s;
      while (up && !up.name.startsWith('process ')) up = up.parentSpanId ? byId.get(up.parentSpanId) : undefined;
      return up?.attributes['arp.stage'] as string | undefined;
    };
    const calls = spans.filter((s) => s.attributes['arp.provider']);
    const where = (name: string) => [...new Set(calls.filter((s) => s.name === name).map(stageOf))];
    expect(where('marketplace GET /company/basic')).toEqual(['search']);
    expect(where('voice ID POST /v1/verify')).toEqual(['authorize']);
    expect(where('issuer POST /v1/tokens')).toEqual(['authorize']);
    expect(where('marketplace GET /company/detail')).toEqual(['detail']);
    expect(where('marketplace POST /pay')).toEqual(['detail']);
    expect(where('marketplace GET /company/detail (paid)')).toEqual(['detail']);
    expect(where('issuer POST /v1/tokens/:id/close')).toEqual(['report']);
    for (const call of calls) {
      expect(call.kind).toBe(3); // CLIENT
      expect(call.attributes).toMatchObject({ 'server.address': '127.0.0.1' });
      expect(String(call.attributes['http.route'])).toMatch(/^(GET|POST) \//);
    }
    const pay = calls.find((s) => s.name === 'marketplace POST /pay')!;
    expect(pay.attributes['http.response.status_code']).toBe(201);
    // The probe's 402 is the marketplace's normal answer: not an error.
    expect(calls.find((s) => s.name === 'marketplace GET /company/detail')!.status?.code ?? 0).not.toBe(2);

    // The gateway's queries are children of the POST, the workers' of their stage job (budget use is
    // counted in the money's own statements: no dashboard job runs for a task).
    const db = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(new Set(db.map((s) => stageOf(s) ?? byId.get(s.parentSpanId!)?.name))).toEqual(new Set(['POST /v1/tasks', 'search', 'authorize', 'detail', 'report']));
    expect(db.every((s) => s.kind === 3 && typeof s.attributes['db.query.text'] === 'string' && s.name === `db ${s.attributes['db.operation.name']}`)).toBe(true);

    // Money: each movement is an event on the job that made it, in fen and as the decimal on the wire.
    const task = (await repos.tasks.get(taskId))!;
    const events = spans.flatMap((s) => s.events.filter((e) => e.name.startsWith('money.')).map((e) => ({ ...e, stage: s.attributes['arp.stage'] })));
    const sum = (kind: string) => events.filter((e) => e.attributes['arp.money.kind'] === kind).reduce((n, e) => n + Number(e.attributes['arp.money.amount_fen']), 0);
    expect(sum('capture')).toBe(task.captured);
    expect(events.filter((e) => e.attributes['arp.money.kind'] === 'capture').every((e) => e.stage === 'detail' && e.attributes['arp.money.currency'] === 'CNY' && /^\d+\.\d\d$/.test(String(e.attributes['arp.money.amount'])))).toBe(true);
    expect(sum('reserve')).toBe(task.captured + task.released);
  });

  it('never puts a secret on a span: no token id, receipt or key', async () => {
    await taskTrace();
    const tokens = await new IssuerClient(mocks.urls.tokenIssuer!, ISSUER_KEY, 5_000).tokensFor(taskId);
    expect(tokens.length).toBe(1);
    const receipts = (await repos.payments.forTask(taskId)).map((p) => repos.payments.receiptOf(p)).filter((r): r is string => Boolean(r));
    expect(receipts.length).toBeGreaterThan(0);
    const exported = receiver.bodies.join('\n');
    for (const secret of [tokens[0]!.id, ...receipts, API_KEY, ISSUER_KEY, 'obs-admin-password']) expect(exported).not.toContain(secret);
  });

  it('logs every line about the task with its id and trace id, in every process', async () => {
    const { traceId } = await taskTrace();
    for (const p of [gateway, ...workers]) {
      const mine = p.lines.filter((l) => l.taskId === taskId);
      expect(mine.length, p.name).toBeGreaterThan(0);
      expect(mine.every((l) => l.trace_id === traceId), p.name).toBe(true);
    }
    const post = gateway.lines.find((l) => l.msg === 'request' && l.method === 'POST' && l.path === '/v1/tasks')!;
    expect(post).toMatchObject({ taskId, trace_id: traceId, status: 202 });
    const searchDone = workers[0]!.lines.find((l) => l.msg === 'search job completed')!;
    expect(searchDone).toMatchObject({ taskId, stage: 'search', trace_id: traceId, outcome: 'completed' });
    const detailDone = workers[0]!.lines.filter((l) => l.msg === 'detail job completed');
    expect(detailDone.length).toBeGreaterThan(0);
    expect(detailDone.every((l) => l.taskId === taskId && typeof l.companyId === 'string')).toBe(true);
  });

  it('shows the task’s figures on each worker’s /metrics, and its probes answer', async () => {
    const task = (await repos.tasks.get(taskId))!;
    const companies = await repos.companies.list(taskId);
    const scrape = async (group: string) => {
      const res = await fetch(`${workerUrls[group]}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      return res.text();
    };
    for (const group of Object.keys(workerUrls)) {
      const health = await fetch(`${workerUrls[group]}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await fetch(`${workerUrls[group]}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { redis: 'ok', postgres: 'ok' } }]);
    }

    const search = await scrape('search+detail+dashboard');
    expect(sample(search, 'arp_job_duration_seconds_count', { queue: 'search', outcome: 'completed' })).toBe(1);
    const took = sample(search, 'arp_job_duration_seconds_sum', { queue: 'search', outcome: 'completed' });
    expect(took).toBeGreaterThan(0);
    expect(took).toBeLessThan(40);
    expect(sample(search, 'arp_job_wait_seconds_count', { queue: 'search' })).toBe(1);
    expect(sample(search, 'arp_provider_request_duration_seconds_count', { provider: 'marketplace', operation: 'GET /company/basic' })).toBe(1);
    expect(sample(search, 'arp_process_resident_memory_bytes')).toBeGreaterThan(0);

    const detail = search;
    const bought = companies.filter((c) => c.status === 'bought').length;
    expect(sample(detail, 'arp_job_duration_seconds_count', { queue: 'detail', outcome: 'completed' })).toBe(companies.filter((c) => c.status !== 'skipped').length);
    expect(sample(detail, 'arp_provider_request_duration_seconds_count', { provider: 'marketplace', operation: 'POST /pay' })).toBe(bought);
    expect(sample(detail, 'arp_money_moved_fen_total', { kind: 'capture' })).toBe(task.captured);
    expect(sample(detail, 'arp_money_moved_fen_total', { kind: 'reserve' })).toBe(task.captured + task.released);
    expect(sample(detail, 'arp_provider_errors_total', { provider: 'marketplace', operation: 'GET /company/detail', code: 'payment_required' })).toBe(0);

    const report = await scrape('authorize+report');
    expect(sample(report, 'arp_tasks_ended_total', { status: 'completed' })).toBe(1);
    expect(sample(report, 'arp_job_duration_seconds_count', { queue: 'report', outcome: 'completed' })).toBe(1);
    expect(sample(report, 'arp_provider_request_duration_seconds_count', { provider: 'issuer', operation: 'POST /v1/tokens' })).toBe(1);

    // The gateway's own /metrics (admin login) serves the same families: this process moved no money.
    const res = await fetch(`${gatewayUrl}/metrics`, { headers: ADMIN });
    const gw = await res.text();
    expect(res.status).toBe(200);
    for (const family of ['arp_job_duration_seconds', 'arp_job_wait_seconds', 'arp_provider_request_duration_seconds', 'arp_provider_errors_total', 'arp_money_moved_fen_total', 'arp_tasks_ended_total']) {
      expect(gw).toContain(`# TYPE ${family} `);
    }
    expect(sample(gw, 'arp_tasks', { status: 'completed' })).toBe(1);
  });
});
