import { pino, type Logger } from 'pino';
import { maskLogValue, REDACTED_LOG_PATHS } from './redact.ts';

export type { Logger };

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
