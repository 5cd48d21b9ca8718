/**
 * The product's programs, started as their containers start them: from the build (`dist/apps/…/main.js`,
 * `npm run build`) when it is there, else from the sources with tsx (`node --import tsx apps/…/main.ts`;
 * `--tsx` forces that). Each is a child process of its own, stopped by its pid. Its JSON log lines are
 * read: the one that says it is ready (for its ports), and those at level error or above (counted).
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
  /** The log line that said it was ready. */
  ready: Record<string, unknown>;
  /** Log lines at level error or above so far, and the last few of them. */
  errors(): { count: number; last: string[] };
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const START_MS = 60_000;

/** Starts one program; resolves once a JSON log line's msg matches `ready`. */
export async function startProgram(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Program> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env, LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let errorCount = 0;
  const lastErrors: string[] = [];
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`${name} did not start in ${START_MS / 1000} s: ${stderr.slice(-1500)}`));
    }, START_MS);
    let buffered = '';
    let started = false;
    child.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry: { level?: number; msg?: string } & Record<string, unknown>;
        try {
          entry = JSON.parse(text);
        } catch {
          continue;
        }
        if ((entry.level ?? 0) >= 50) {
          errorCount++;
          lastErrors.push(`${entry.msg ?? ''} ${typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err ?? '')}`.slice(0, 300));
          if (lastErrors.length > 3) lastErrors.shift();
        }
        if (!started && ready.test(entry.msg ?? '')) {
          started = true;
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready: ${stderr.slice(-1500)}`));
    });
  });
  return {
    name,
    pid: child.pid!,
    ready: line,
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
