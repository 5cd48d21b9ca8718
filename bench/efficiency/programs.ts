/**
 * The product's programs, started as their containers start them: from the build (`dist/apps/…/main.js`,
 * `npm run build`) when it is there, else from the sources with tsx (`node --import tsx apps/…/main.ts`;
 * `--tsx` forces that). Each is a child process of its own on ports chosen for it, ready when its
 * /readyz says so, stopped by its pid. Its JSON log lines at level error or above are counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;

export type App = 'gateway' | 'worker' | 'start';
export type Runner = 'dist' | 'tsx';

const built = (app: App) => join(ROOT, 'dist', 'apps', app, 'main.js');

/** The build when the programs `apps` are built (and tsx is not forced), else the sources. */
export function chooseRunner(forceTsx: boolean, apps: App[]): Runner {
  return !forceTsx && apps.every((app) => existsSync(built(app))) ? 'dist' : 'tsx';
}

export const RUNNER_TITLE: Record<Runner, string> = {
  dist: 'the build (node dist/apps/…/main.js)',
  tsx: 'the sources (node --import tsx apps/…/main.ts)',
};

export function programArgs(runner: Runner, app: App): string[] {
  return runner === 'dist' ? [built(app)] : ['--import', 'tsx', join(ROOT, 'apps', app, 'main.ts')];
}

export interface Program {
  name: string;
  pid: number;
  /** Log lines at level error or above so far, and the last few of them. */
  errors(): { count: number; last: string[] };
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const START_MS = 90_000;

/**
 * Starts one program; resolves once `readyUrl` (its /readyz) answers 200 — whatever LOG_LEVEL says.
 * A program that exits first, or is not ready in time, is an error (and is killed).
 */
export async function startProgram(name: string, args: string[], env: NodeJS.ProcessEnv, readyUrl: string): Promise<Program> {
  // BENCH_NODE_ARGS (flags.ts): node's own flags for every product process, such as a CPU profile of each.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env, LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let errorCount = 0;
  const lastErrors: string[] = [];
  let exited = false;
  let exitCode: number | null = null;
  const gone = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = true), (exitCode = code), resolve())));
  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  let buffered = '';
  child.stdout!.on('data', (b: Buffer) => {
    buffered += b.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!text.includes('"level":5') && !text.includes('"level":6')) continue;
      try {
        const entry = JSON.parse(text) as { level?: number; msg?: string; err?: unknown };
        if ((entry.level ?? 0) < 50) continue;
        errorCount++;
        lastErrors.push(`${entry.msg ?? ''} ${typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err ?? '')}`.slice(0, 300));
        if (lastErrors.length > 3) lastErrors.shift();
      } catch {
        /* not a log line */
      }
    }
  });
  const deadline = Date.now() + START_MS;
  for (;;) {
    if (exited) throw new Error(`${name} exited (${exitCode}) before it was ready: ${stderr.slice(-1500)}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`${name} was not ready in ${START_MS / 1000} s: ${stderr.slice(-1500)}`);
    }
    const ok = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => (void res.body?.cancel(), res.status === 200),
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    pid: child.pid!,
    errors: () => ({ count: errorCount, last: [...lastErrors] }),
    exited: () => exited,
    stop: async (graceMs = 10_000) => {
      process.off('exit', kill);
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}
