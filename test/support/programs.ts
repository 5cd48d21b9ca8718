import { join } from 'node:path';
import { inject } from 'vitest';
import { compiledPath, PROGRAMS } from '../../infra/programs.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where global-setup compiled the programs for this run (`npm run build` into a private folder). */
    programsDir: string;
  }
}

/**
 * The arguments for `node` that run one of our programs (`apps/worker/main.ts`) as production runs it:
 * its compiled bundle, built once for the whole run from the current sources. A source that is not a
 * built program (a test's own helper script) runs through tsx.
 */
export function programArgs(source: string, args: readonly string[] = []): string[] {
  if (!(PROGRAMS as readonly string[]).includes(source)) return ['--import', 'tsx', source, ...args];
  return ['--enable-source-maps', join(inject('programsDir'), compiledPath(source, '')), ...args];
}
