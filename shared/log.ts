import { pino, type Logger } from 'pino';
import { maskLogValue, REDACTED_LOG_PATHS } from './redact.ts';
import { traceIds, tracingOn } from './telemetry/tracing.ts';

export type { Logger };

/**
 * The trace and span ids of the span a line is written in, so a line leads to its trace (and back).
 * Only with tracing on: the mixin is not even installed otherwise.
 */
function traceContext(): object {
  return traceIds() ?? {};
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
    // Loggers are made once tracing has started (each program's first import), so this is decided once.
    ...(tracingOn() ? { mixin: traceContext } : {}),
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    hooks: {
      logMethod(args, method) {
        const own = withoutBound(this, args as unknown[]);
        const [first, ...rest] = own;
        // A bare Error keeps pino's shape: under `err`, its message the line's message unless one is given.
        const masked = first instanceof Error ? [{ err: maskLogValue(first) }, ...(rest.length ? rest : [first.message])] : own;
        method.apply(this, masked.map((a) => maskLogValue(a)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

const BOUND = Symbol('arp.log.bound');

/**
 * A child logger whose every line carries `fields` (a stage job's task id, stage and job id). A line
 * that names one of them again with the same value does not repeat it (JSON has no duplicate keys).
 */
export function childWith(log: Logger, fields: Record<string, string | undefined>): Logger {
  const bound = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const child = log.child(bound);
  (child as Logger & { [BOUND]?: Record<string, string> })[BOUND] = bound;
  return child;
}

/** A line's own fields without those its logger binds already (same value): see childWith. */
function withoutBound(logger: unknown, args: unknown[]): unknown[] {
  const bound = (logger as { [BOUND]?: Record<string, string> })[BOUND];
  const first = args[0];
  if (!bound || !first || typeof first !== 'object' || first instanceof Error) return args;
  const keys = Object.keys(bound).filter((k) => (first as Record<string, unknown>)[k] === bound[k]);
  if (!keys.length) return args;
  const own = { ...(first as Record<string, unknown>) };
  for (const k of keys) delete own[k];
  return [own, ...args.slice(1)];
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
