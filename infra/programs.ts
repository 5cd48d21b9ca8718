import { join } from 'node:path';

/**
 * The programs `npm run build` compiles, by source. Each lands in dist/ at the same path with `.js`
 * (apps/gateway/main.ts → dist/apps/gateway/main.js): what the npm scripts, the image and the
 * deployments run with plain `node`.
 */
export const PROGRAMS = [
  'apps/gateway/main.ts',
  'apps/worker/main.ts',
  'apps/cli/reconcile.ts',
  'apps/cli/rotate-keys.ts',
  'apps/cli/research.ts',
  'mocks/main.ts',
  // Everything in one process (`npm start` runs it through tsx; the bench and the tests run it compiled).
  'apps/start/main.ts',
] as const;

/** Where `npm run build` writes, relative to the project (and to the image's working directory). */
export const DIST = 'dist';

/** Where a source file's compiled counterpart is under `outdir` (relative in, relative out). */
export const compiledPath = (source: string, outdir: string = DIST) => join(outdir, source.replace(/\.tsx?$/, '.js'));
