import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../apps/start/redis.ts';
import { runCli as cliInProcess } from '../../apps/cli/research.ts';
import { runCli } from '../support/cli.ts';
import { API_KEY, openHarness, waitFor, type Harness } from '../support/harness.ts';
import { readSse } from '../support/sse.ts';
import { programArgs } from '../support/programs.ts';

const databaseUrl = inject('databaseUrl');
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = 'apps/cli/research.ts';

interface Gateway {
  url: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  logs: string[];
}

/**
 * Following a task from outside (issue 13): two real gateway processes on one Redis and one Postgres
 * serve the same live stream of a task whose work runs elsewhere (this file's in-process workers), and
 * the CLI (`npm run cli`), run as its own process against one of them, follows tasks to their end with
 * the exit code of each outcome. Postgres only: PGlite serves one process.
 */
describe.skipIf(!databaseUrl)('following a task across gateway processes, and the research CLI', () => {
  let h: Harness;
  let gateways: Gateway[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'arp-follow-'));
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
    gateways = await Promise.all([startGateway(h), startGateway(h)]);
    cliEnv = { ARP_URL: gateways[0]!.url, ARP_API_KEY: API_KEY };
  }, 60_000);
  afterAll(async () => {
    for (const g of gateways) g.child.kill('SIGTERM');
    await Promise.all(gateways.map((g) => g.exited));
    await h?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The CLI run in this process (same code, no process start-up): for the subcommands and the usage errors. */
  async function cli(args: string[], env: Record<string, string> = cliEnv) {
    const out = { stdout: '', stderr: '' };
    const stream = (key: 'stdout' | 'stderr') => ({ isTTY: false, write: (s: string) => ((out[key] += s), true) }) as unknown as NodeJS.WriteStream;
    const code = await cliInProcess(args, { stdout: stream('stdout'), stderr: stream('stderr'), env });
    return { code, ...out };
  }

  /** Holds new tasks before their search (the queue paused) so a test can open streams or a CLI first. */
  async function holdingSearches<T>(run: (release: () => Promise<void>) => Promise<T>): Promise<T> {
    await h.producer.queues.search.pause();
    let released = false;
    const release = async () => {
      if (!released) await h.producer.queues.search.resume();
      released = true;
    };
    try {
      return await run(release);
    } finally {
      await release();
    }
  }

  it('two gateway processes serve the same live stream: every event, in order, on both, to `ended`', async () => {
    await holdingSearches(async (release) => {
      const [a, b] = gateways as [Gateway, Gateway];
      const res = await fetch(`${a.url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ theme: 'battery', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 2 }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const open = (g: Gateway) => fetch(`${g.url}/v1/tasks/${id}/events`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const [onA, onB] = await Promise.all([open(a), open(b)]);
      expect([onA.status, onB.status]).toEqual([200, 200]);
      // Both streams are open before any work is done: what follows reaches them live.
      const reading = [readSse(onA, { timeoutMs: 30_000 }), readSse(onB, { timeoutMs: 30_000 })];
      expect((await h.repos.events.since(id, 0)).map((e) => e.type)).toEqual(['created']);
      await release();
      const [fromA, fromB] = await Promise.all(reading);
      expect(fromA!.closed && fromB!.closed).toBe(true);
      const story = fromA!.events.map((e) => e.data);
      expect(fromB!.events.map((e) => e.data)).toEqual(story);
      expect(story.map((e) => e.seq)).toEqual(story.map((_, i) => i + 1));
      expect(story.at(-1)).toMatchObject({ type: 'ended', data: { status: 'completed' } });
      expect(story.filter((e) => e.type === 'payment').length).toBeGreaterThan(0);
      expect(story).toEqual((await h.repos.events.since(id, 0)).map((e) => ({ ...e, at: e.at.toISOString() })));
    });
  }, 60_000);

  it('CLI research: follows a completed task line by line with the money, prints the report on stdout, exit 0', async () => {
    const run = await runCli(CLI, ['research', 'solid-state', 'battery', '--budget', '50', '--voice', 'demo-voice', '--max-companies', '2'], cliEnv);
    expect(run.code, run.stderr).toBe(0);
    // Not a terminal: plain lines on stderr, one per event.
    expect(run.stderr).toMatch(/^task [0-9a-f-]{36} submitted: "solid-state battery", budget 50\.00 CNY$/m);
    expect(run.stderr).toMatch(/^stage search$/m);
    expect(run.stderr).toMatch(/^decision buy {2}\S+ .+ \(\d+\.\d{2} CNY\) — /m);
    expect(run.stderr).toMatch(/^money capture \d+\.\d{2} CNY \S+ — spent \d+\.\d{2}, reserved \d+\.\d{2} of 50\.00 CNY$/m);
    expect(run.stderr).toMatch(/^report ready \(written by offline\)$/m);
    expect(run.stderr).toMatch(/^ended: completed \(spent \d+\.\d{2}, reserved 0\.00 of 50\.00 CNY\)$/m);
    expect(run.stderr).not.toMatch(/\x1b\[/); // no terminal control codes in a pipe
    expect(run.stdout).toMatch(/^# Research report: solid-state battery/);
    const id = /^task ([0-9a-f-]{36})/m.exec(run.stderr)![1]!;
    expect((await h.repos.tasks.get(id))!.status).toBe('completed');

    // -o writes the report to a file; the subcommands read the same task.
    const file = join(tmp, 'report.md');
    const report = await cli(['report', id, '-o', file]);
    expect(report.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(run.stdout.endsWith('\n') ? run.stdout : `${run.stdout}\n`);
    const status = await cli(['status', id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^status {3}completed$/m);
    const events = await cli(['events', id]);
    expect(events.code).toBe(0);
    const lines = events.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ {3}1 \S+ queued$/);
    expect(lines.at(-1)).toMatch(/ ended: completed$/);
    const list = await cli(['list', '--limit', '5']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
  }, 60_000);

  it('CLI research: a failed task (voice not verified) exits 1 with the reason', async () => {
    const run = await runCli(CLI, ['research', 'robotics', '--budget', '20', '--voice', 'nobody-voice'], cliEnv);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^voice NOT verified$/m);
    expect(run.stderr).toMatch(/^ended: failed — voice_not_verified: /m);
    expect(run.stdout).toBe('');
    const id = /^task ([0-9a-f-]{36})/m.exec(run.stderr)![1]!;
    expect((await cli(['status', id])).code).toBe(1);
    const report = await cli(['report', id]);
    expect(report.code).toBe(1);
    expect(report.stderr).toMatch(/no report: .*failed/);
  }, 60_000);

  it('CLI research: a task cancelled (with `cancel`) while it is followed exits 1; cancelling it again exits 1', async () => {
    await holdingSearches(async (release) => {
      const following = runCli(CLI, ['research', 'logistics', '--budget', '30', '--voice', 'demo-voice'], cliEnv);
      const id = await waitFor(async () => (await h.database.db.selectFrom('tasks').select('id').where('theme', '=', 'logistics').executeTakeFirst())?.id, 'the CLI to submit');
      const cancel = await cli(['cancel', id]);
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stdout).toMatch(/^cancel requested: task .* \(stopping\)$/m);
      await release();
      const run = await following;
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/^cancel requested$/m);
      expect(run.stderr).toMatch(/^ended: cancelled — cancelled: /m);
      expect(run.stdout).toBe('');
      const again = await cli(['cancel', id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already ended/);
    });
  }, 60_000);

  it('CLI: usage and connection errors exit 2', async () => {
    const noKey = await cli(['list'], { ARP_URL: gateways[0]!.url });
    expect(noKey).toMatchObject({ code: 2 });
    expect(noKey.stderr).toMatch(/no API key/);
    const badKey = await cli(['list', '--key', 'wrong-key'], { ARP_URL: gateways[0]!.url });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/401 unauthorized/);
    expect((await cli(['research', 'x', '--voice', 'v'])).code).toBe(2); // no --budget
    expect((await cli(['research', 'x', '--budget', '0', '--voice', 'v'])).code).toBe(2);
    expect((await cli(['status', 'not-a-uuid'])).code).toBe(2);
    expect((await cli(['status', '00000000-0000-4000-8000-000000000000'])).code).toBe(2);
    const down = await cli(['list', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  }, 60_000);
});

/** A gateway process (`apps/gateway/main.ts`) on the harness's Redis prefix and Postgres schema. */
async function startGateway(h: Harness): Promise<Gateway> {
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: h.config.REDIS_URL!,
    DATABASE_URL: h.config.DATABASE_URL!,
    DATABASE_SCHEMA: h.config.DATABASE_SCHEMA,
    QUEUE_PREFIX: h.config.QUEUE_PREFIX,
    API_KEYS: `acme:${API_KEY},other:other-key`,
    LOG_LEVEL: 'warn',
    EVENTS_HEARTBEAT_MS: '1000',
  };
  const child = spawn(process.execPath, programArgs('apps/gateway/main.ts'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  child.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${logs.join('')}`);
      return (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) || undefined;
    },
    'a gateway process to listen',
    30_000,
  );
  return { url, child, exited, logs };
}
