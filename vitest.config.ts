import { defineConfig } from 'vitest/config';

/** Settings every run shares (the suite, the fault files, the mutation run in vitest.mutation.config.ts). */
export const shared = {
  globalSetup: ['test/support/global-setup.ts'],
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

/** Never test files in there: local data, the compiled programs, and the mutation run's sandbox copies and reports. */
export const notTests = ['node_modules/**', '.data/**', '.stryker-tmp/**', 'reports/**', 'dist/**'];

/**
 * Files that replace a module (`vi.mock`): they need a module registry of their own, so they run isolated.
 * Every other file shares its worker's registry with the files before it (`isolate: false`): importing the
 * app, BullMQ, kysely and the providers once per worker instead of once per file saves about a third of the
 * suite's CPU. Each file still opens and closes its own harness (queue prefix, schema, mocks).
 */
const NEEDS_OWN_MODULES = ['apps/gateway/auth.keys.security.test.ts'];

/**
 * Three groups: the ordinary suite, three files at a time (on two cores: the files wait on servers, timers
 * and child processes more than they compute — the suite used about one core with two), sharing module registries; the few
 * files that mock modules, isolated; then the fault-injection files (several worker processes each), one
 * at a time, so their timing is not starved by other files.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['**/*.test.ts'],
          exclude: [...notTests, 'test/faults/**', ...NEEDS_OWN_MODULES],
          maxWorkers: 3,
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'isolated',
          include: NEEDS_OWN_MODULES,
          exclude: notTests,
          maxWorkers: 3,
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
