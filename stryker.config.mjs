// Mutation testing of the money core: `npm run test:mutation` (not part of `npm test`; it is slow).
// One file at a time: `npm run test:mutation -- --mutate shared/money.ts`.
// Needs the test servers like `npm test`: REDIS_URL and DATABASE_URL (PGlite in-process without it).
// Survivors judged equivalent are listed in docs/mutation-survivors.md.

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  coverageAnalysis: 'perTest',
  mutate: ['shared/db/payments.ts', 'queues/detail/processor.ts', 'queues/settle.ts', 'shared/audit/reconcile.ts', 'shared/money.ts'],
  // The sandbox gets the sources only: no local data, no earlier reports.
  ignorePatterns: ['.data', 'reports', 'coverage', '*.log'],
  tempDirName: '.stryker-tmp',
  // Stryker rewrites the tsconfig's extends/references for the sandbox through TypeScript's JS API,
  // which TypeScript 7 no longer has (it crashes). Ours has neither, so it names a file that is not
  // there and the rewrite is skipped; the sandbox keeps tsconfig.json as it is.
  tsconfigFile: 'no-tsconfig-to-rewrite.json',
  cleanTempDir: 'always',
  // Two cores shared with other developers: one test runner (raise with --concurrency on a bigger machine).
  concurrency: 1,
  // Each test file opens its own harness (schema, mocks, queues), so a mutant's run is seconds, not milliseconds.
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
};
