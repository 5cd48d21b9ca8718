import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { build, type BuildResult } from '../../infra/build.ts';
import { compiledPath, PROGRAMS } from '../../infra/programs.ts';
import { PROGRAM_SCRIPT } from '../../infra/process-model.ts';
import { startMocks, type RunningMocks } from '../../mocks/index.ts';
import { deletePrefix, redisConnection } from '../../queues/connection.ts';
import { dropSchema, openDatabase } from '../../shared/db/index.ts';
import { startOtlpReceiver } from '../support/otlp-receiver.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string>; dependencies: Record<string, string> };
const API_KEY = 'build-api-key-0123456789';
const ISSUER_KEY = 'build-issuer-key-0123456789';

/**
 * A folder laid out as the image is: package.json, and node_modules holding only what `npm ci --omit=dev`
 * installs (package-lock.json's packages not marked dev: no tsx, no esbuild), linked from ours. No source.
 */
function imageLike(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arp-build-'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Top-level packages only (nested ones come with their parent); optional ones for other platforms are absent.
    if (!path.startsWith('node_modules/') || path.slice('node_modules/'.length).includes('node_modules/') || entry.dev || !existsSync(join(ROOT, path))) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(join(ROOT, path), join(dir, path), 'dir');
  }
  return dir;
}

/** A compiled program run with plain node from `cwd`: no loader, no NODE_OPTIONS, only the given environment. */
interface Proc {
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}
function run(cwd: string, program: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [program, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { child, out: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  const keep = (d: Buffer) => (proc.out = (proc.out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return proc;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, procs: Proc[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline || procs.some((p) => p.child.exitCode !== null)) throw new Error(`gave up waiting for ${what}\n${procs.map((p) => p.out.slice(-3000)).join('\n---\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Issue 16: production runs the programs compiled (`npm run build` → dist/) with plain node. Built into a
 * folder laid out as the image, the compiled gateway and a compiled worker (every stage) run a research
 * task to `completed` against the provider stand-ins, real Redis and Postgres (migrated by the compiled
 * code), with tracing on and the gateway's logs through pino-pretty (both imported only on demand); the
 * compiled reconcile then finds the books in agreement with the issuer.
 */
const databaseUrl = inject('databaseUrl');

describe.skipIf(!databaseUrl)('the compiled programs (npm run build)', () => {
  const id = randomBytes(4).toString('hex');
  const schema = `t_build_${id}`;
  const prefix = `t-build-${id}`;
  const redisUrl = inject('redisUrl');
  const dir = imageLike();
  const dist = join(dir, 'dist');
  let built: BuildResult;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let mocks: RunningMocks;
  let env: Record<string, string>;
  let gateway: Proc;
  let worker: Proc;
  let base: string;
  let taskId: string;
  const auth = { authorization: `Bearer ${API_KEY}` };

  beforeAll(async () => {
    built = await build(dist);
    receiver = await startOtlpReceiver();
    mocks = await startMocks({ issuerApiKey: ISSUER_KEY, receiptSecret: 'build-receipt-secret', faults: {}, only: ['tokenIssuer', 'marketplace', 'voiceid'] });
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl!,
      DATABASE_SCHEMA: schema,
      QUEUE_PREFIX: prefix,
      DATA_DIR: join(dir, 'data'),
      MARKETPLACE_URL: mocks.urls.marketplace!,
      TOKEN_ISSUER_URL: mocks.urls.tokenIssuer!,
      VOICEID_URL: mocks.urls.voiceid!,
      TOKEN_ISSUER_API_KEY: ISSUER_KEY,
      API_KEYS: `acme:${API_KEY}`,
      ADMIN_PASSWORD: 'build-admin-password',
      SWEEP_INTERVAL_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '1000',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    gateway = run(dir, PROGRAM_SCRIPT.gateway, [], { ...env, PORT: '0', LOG_FORMAT: 'pretty' });
    worker = run(dir, PROGRAM_SCRIPT.worker, [], { ...env, WORKER_HTTP_PORT: '0', LOG_FORMAT: 'json' });
    const port = await until('the gateway to listen', () => /gateway listening on http:\/\/[^\s]+:(\d+)/.exec(gateway.out)?.[1], 30_000, [gateway, worker]);
    base = `http://127.0.0.1:${port}`;
    await until('the worker to start', () => (/"msg":"worker started"/.test(worker.out) ? true : undefined), 30_000, [gateway, worker]);
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ theme: 'battery', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2 }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    taskId = ((await res.json()) as { id: string }).id;
  }, 90_000);

  afterAll(async () => {
    for (const p of [gateway, worker]) if (p?.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all([gateway, worker].filter(Boolean).map((p) => p.exited)), new Promise((r) => setTimeout(r, 5_000))]);
    for (const p of [gateway, worker]) if (p?.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    const redis = redisConnection(redisUrl, 'producer');
    await deletePrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    if (databaseUrl) {
      const database = await openDatabase({ databaseUrl, schema, dataDir: dir, poolSize: 1 });
      await dropSchema(database).catch(() => undefined);
      await database.close();
    }
    await mocks?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds every program at its source path under dist/, importing at run time only production dependencies', () => {
    expect(built.programs).toEqual(PROGRAMS.map((p) => compiledPath(p, dist)));
    for (const program of built.programs) expect(existsSync(program) && existsSync(`${program}.map`), program).toBe(true);
    // What the image has (npm ci --omit=dev): never tsx, esbuild or another development dependency.
    expect(built.packages.filter((p) => !Object.hasOwn(pkg.dependencies, p))).toEqual([]);
    // Those imported only on demand are found too: tracing, pretty logs, the embedded database.
    expect(built.packages).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-node', 'pino-pretty', '@electric-sql/pglite']));
    // No source file is there to fall back on: the folder holds package.json, node_modules and dist/ only.
    expect(readdirSync(dir).filter((f) => f !== 'data').sort()).toEqual(['dist', 'node_modules', 'package.json']);
    expect(existsSync(join(dir, 'node_modules', 'tsx'))).toBe(false);
  });

  it('is what the npm scripts run (after building), and what the deployments run', () => {
    for (const [script, source] of [['gateway', 'apps/gateway/main.ts'], ['worker', 'apps/worker/main.ts'], ['reconcile', 'apps/cli/reconcile.ts'], ['rotate-keys', 'apps/cli/rotate-keys.ts']]) {
      expect(pkg.scripts[script], script).toBe(`node ${compiledPath(source!)}`);
      expect(pkg.scripts[`pre${script}`], `pre${script}`).toBe('npm run -s build');
    }
    for (const script of Object.values(PROGRAM_SCRIPT)) expect(PROGRAMS.map((p) => compiledPath(p))).toContain(script);
  });

  it('runs a research task to completed: compiled gateway and worker, migrations, every stage', async () => {
    const task = await until(
      'the task to end',
      async () => {
        const t = (await (await fetch(`${base}/v1/tasks/${taskId}`, { headers: auth })).json()) as { status: string; companies: Array<{ status: string }> };
        return ['completed', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
      },
      60_000,
      [gateway, worker],
    );
    expect(task.status).toBe('completed');
    expect(task.companies.some((c) => c.status === 'bought')).toBe(true);
    const report = await fetch(`${base}/v1/tasks/${taskId}/report`, { headers: auth });
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(await report.text()).toContain('battery');
  });

  it('serves the files the gateway reads beside its code and from packages: the console, Swagger UI, the document', async () => {
    const page = await fetch(`${base}/console`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/^<!doctype html>\n<html/); // hono/jsx, compiled from .tsx
    for (const asset of ['console.js', 'console.css', 'icon.svg']) {
      const res = await fetch(`${base}/console/${asset}`);
      expect(res.status, asset).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ROOT, 'apps/console/assets', asset))), asset).toBe(true);
    }
    expect((await fetch(`${base}/docs/`)).status).toBe(200);
    const css = await fetch(`${base}/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(10_000);
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { info: { version: string } };
    expect(doc.info.version).toBe(pkg.version);
  });

  it('traces the task from the gateway through the worker (the OpenTelemetry SDK, loaded on demand)', async () => {
    const services = () => new Set(receiver.spans.filter((s) => s.attributes['arp.task.id'] === taskId).map((s) => s.service));
    await until('spans of both processes', () => (services().size === 2 ? true : undefined), 15_000, [gateway, worker]);
    expect(services()).toEqual(new Set(['arp-gateway', 'arp-worker']));
  });

  it('logs for people through pino-pretty when LOG_FORMAT=pretty (loaded on demand)', () => {
    expect(gateway.out).toMatch(/INFO.*gateway listening on http:/);
    expect(gateway.out).not.toMatch(/^\{"level"/m);
  });

  it('reconciles the task with the compiled reconcile: the books agree with the issuer (exit 0)', async () => {
    const reconcile = run(dir, compiledPath('apps/cli/reconcile.ts'), [taskId], env);
    expect(await reconcile.exited, reconcile.out).toBe(0);
  });
});
