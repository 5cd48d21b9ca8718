import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: JSON lines on stdout, one child per component. */
export function createLogger(level: string, name = 'arp'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
