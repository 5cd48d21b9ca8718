import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import { maskLogValue, REDACTED_LOG_PATHS } from './redact.ts';
import { traceIds } from './telemetry/tracing.ts';

export type { Logger };

/** What a line is about, put on every line logged while it is in scope (a stage job, an API request). */
export interface LogFields {
  taskId?: string;
  stage?: string;
  jobId?: string;
  companyId?: string;
}

const scope = new AsyncLocalStorage<LogFields>();

/**
 * Runs `fn` with these fields on every line any logger writes inside it (and inside what it awaits):
 * the task id reaches the lines of every module a stage job calls, without each one passing it on.
 */
export function withLogFields<T>(fields: LogFields, fn: () => T): T {
  return scope.run({ ...scope.getStore(), ...fields }, fn);
}

/** Adds fields to the current scope (the API request that has just created its task), from here on. */
export function addLogFields(fields: LogFields): void {
  const store = scope.getStore();
  if (store) Object.assign(store, fields);
}

/**
 * The scope's fields and, when tracing, the active span's trace and span ids (to find the line's trace).
 * A new object every time: pino merges the line's own fields into what a mixin returns.
 */
function lineContext(): object {
  return { ...scope.getStore(), ...traceIds() };
}

/**
 * The process logger: JSON lines on stdout (or `destination`), one child per component. Secret-bearing
 * fields are masked wherever they appear, and so are the credentials of any URL in any logged string
 * (shared/redact.ts).
 */
export function createLogger(level: string, name = 'arp', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    base: { pid: process.pid },
    mixin: lineContext,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    hooks: {
      logMethod(args, method) {
        const [first, ...rest] = args as unknown[];
        // A bare Error keeps pino's shape: under `err`, its message the line's message unless one is given.
        const masked = first instanceof Error ? [{ err: maskLogValue(first) }, ...(rest.length ? rest : [first.message])] : args;
        method.apply(this, masked.map((a) => maskLogValue(a)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** How a process writes its lines (LOG_FORMAT): `auto` is pretty only for `npm start` on a terminal outside production. */
export function wantsPrettyLogs(format: 'auto' | 'json' | 'pretty', o: { program: string; terminal: boolean; production: boolean }): boolean {
  if (format !== 'auto') return format === 'pretty';
  return o.program === 'start' && o.terminal && !o.production;
}

/**
 * A destination that prints lines for people (pino-pretty, in this thread, on stdout unless `to` is
 * given); loaded only when asked for. Lines are redacted and masked before they reach it.
 */
export async function prettyDestination(to?: NodeJS.WritableStream): Promise<pino.DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ colorize: !to && process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true, ...(to ? { destination: to } : {}) });
}
