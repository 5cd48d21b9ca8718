import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './redis.ts';
import { programArgs } from '../../test/support/programs.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const KEY = 'start-key';

function startAllInOne(dataDir: string, port: number): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATA_DIR: dataDir, PORT: String(port), API_KEYS: `t:${KEY}`, LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, programArgs('apps/start/main.ts'), { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, log: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** `npm start` as a user runs it: embedded Redis and PGlite, one task end to end, a clean stop. */
describe('npm start (all in one, embedded default)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'arp-start-'));
  const running: ChildProcess[] = [];
  afterAll(() => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves a task end to end, stops on SIGTERM within 5 s taking its Redis along, and keeps its books across a restart', async () => {
    const port = await freePort();
    const first = startAllInOne(dataDir, port);
    running.push(first.child);
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${KEY}` };
    await until('GET /healthz', 60_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
    const redisPort = Number(/private redis:\/\/127\.0\.0\.1:(\d+)/.exec(first.log())?.[1]);
    expect(redisPort).toBeGreaterThan(0);

    const posted = await fetch(`${base}/v1/tasks`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ theme: 'battery', budget: '50.00', voiceId: 'demo-voice' }) });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };
    const task = await until('the task to complete', 30_000, async () => {
      const t = (await (await fetch(`${base}/v1/tasks/${id}`, { headers: auth })).json()) as any;
      return t.status === 'completed' ? t : undefined;
    });
    expect(task.budget.spent).not.toBe('0.00');
    expect(await (await fetch(`${base}/v1/tasks/${id}/report`, { headers: auth })).text()).toContain('company_detail');

    const t0 = Date.now();
    process.kill(-first.child.pid!, 'SIGTERM');
    await first.exited;
    expect(Date.now() - t0).toBeLessThan(5_000);
    await until('the private Redis to stop', 3_000, async () => ((await portOpen(redisPort)) ? undefined : true));

    // Same DATA_DIR: PGlite kept the task and its report.
    const second = startAllInOne(dataDir, port);
    running.push(second.child);
    await until('GET /healthz after the restart', 60_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
    const again = (await (await fetch(`${base}/v1/tasks/${id}`, { headers: auth })).json()) as any;
    expect(again.status).toBe('completed');
    expect(again.budget).toEqual(task.budget);
    process.kill(-second.child.pid!, 'SIGTERM');
    await second.exited;
  }, 150_000);
});
