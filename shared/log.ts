import { pino, type Logger } from 'pino';
import { REDACTED_LOG_PATHS } from './redact.ts';

export type { Logger };

/**
 * The process logger: JSON lines on stdout (or `destination`), one child per component. Secret-bearing
 * fields are masked wherever they appear (shared/redact.ts).
 */
export function createLogger(level: string, name = 'arp', destination?: pino.DestinationStream): Logger {
  const options = { name, level, base: { pid: process.pid }, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
