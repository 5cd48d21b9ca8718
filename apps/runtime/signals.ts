import { maskUrlCredentials } from '../../shared/redact.ts';

/**
 * Runs `shutdown` once on SIGTERM/SIGINT and exits; a hard exit follows after `limitMs` whatever
 * happens, so the process is gone within its shutdown budget.
 */
export function onShutdown(shutdown: (signal: string) => Promise<void>, limitMs: number): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), limitMs).unref();
    shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

/** Prints a start-up failure plainly (it is usually configuration; URL credentials masked) and exits 1. */
export function dieOnStartError(program: string) {
  return (err: unknown) => {
    process.stderr.write(`${program}: ${maskUrlCredentials((err as Error).message)}\n`);
    process.exit(1);
  };
}
