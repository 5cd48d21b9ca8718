import type { Config } from '../../shared/config.ts';
import { createLogger, prettyDestination, wantsPrettyLogs, type Logger } from '../../shared/log.ts';

/**
 * The logger of a program: JSON lines on stdout, or lines for people (pino-pretty) when LOG_FORMAT says
 * `pretty`, or when it is `auto` (the default) and `npm start` writes to a terminal outside production.
 */
export async function processLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>, name: string, program: 'gateway' | 'worker' | 'start'): Promise<Logger> {
  const pretty = wantsPrettyLogs(config.LOG_FORMAT, { program, terminal: process.stdout.isTTY === true, production: config.NODE_ENV === 'production' });
  return createLogger(config.LOG_LEVEL, name, pretty ? await prettyDestination() : undefined);
}
