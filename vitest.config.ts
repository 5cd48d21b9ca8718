import { defineConfig } from 'vitest/config';

/** Settings every run shares (the suite, the fault files, the mutation run in vitest.mutation.config.ts). */
export const shared = {
  globalSetup: ['test/support/global-setup.ts'],
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

/** Never test files in there: local data, and the mutation run's sandbox copies and reports. */
export const notTests = ['node_modules/**', '.data/**', '.stryker-tmp/**', 'reports/**'];

/**
 * Two groups: the ordinary suite, two files at a time (two cores); then the fault-injection files
 * (several worker processes each), one at a time, so their timing is not starved by other files.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['**/*.test.ts'],
          exclude: [...notTests, 'test/faults/**'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          exclude: notTests,
          maxWorkers: 1,
          testTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
