import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/**
 * What `npm run mocks` runs, word for word, without npm around it. It must be a single `node` process:
 * a launcher in between (`tsx mocks/main.ts`) relays SIGTERM and, when its child does not confirm within
 * 30 ms (a loaded machine), SIGKILLs it and exits 143 — no graceful stop.
 */
function mocksCommand(): string[] {
  const script: string = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.mocks;
  const [program, ...args] = script.split(/\s+/);
  if (program !== 'node') throw new Error(`npm run mocks should start node itself, not ${program}`);
  return args;
}

/** Runs `npm run mocks`' command with a clean environment plus `env`. */
function run(env: Record<string, string>) {
  const child = spawn(process.execPath, mocksCommand(), {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm run mocks (mocks/main.ts)', () => {
  it('serves every mock, logs one line each, and stops on SIGTERM within 5 s', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mocks-main-'));
    const proc = run({ DATA_DIR: dataDir, MOCK_FAULTS: '' });
    try {
      // A start through tsx's loader takes about a second; on a loaded 2-core machine, many.
      await until(() => (proc.out().match(/listening on/g) ?? []).length === 4, 45_000);
      const lines = proc.out().trim().split('\n').map((l) => JSON.parse(l));
      const urls = Object.fromEntries(lines.filter((l) => l.mock).map((l) => [l.mock, l.url]));
      expect(Object.keys(urls).sort()).toEqual(['llm', 'marketplace', 'tokenIssuer', 'voiceid']);
      expect(urls.llm).toMatch(/\/v1$/);
      for (const name of ['marketplace', 'tokenIssuer', 'voiceid']) {
        expect((await fetch(`${urls[name]}/healthz`)).status).toBe(200);
      }
      const t = Date.now();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      proc.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('exits 1 naming the variable on a bad value', async () => {
    const proc = run({ MARKETPLACE_URL: 'nonsense' });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toMatch(/MARKETPLACE_URL/);
  }, 20_000);
});
