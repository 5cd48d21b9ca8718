import { spawn } from 'node:child_process';
import { programArgs } from './programs.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI_TIME_LIMIT_MS = 40_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of our programs (e.g. `apps/cli/reconcile.ts`) as its own process, as an operator would, with only the given environment. */
export function runCli(program: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, programArgs(program, args), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIME_LIMIT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`${program} was killed (${signal}) after ${CLI_TIME_LIMIT_MS} ms\n${stdout}\n${stderr}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
