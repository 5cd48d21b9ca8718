import { defineConfig } from 'vitest/config';
import { notTests, shared } from './vitest.config.ts';

/**
 * The tests the mutation run (`npm run test:mutation`, stryker.config.mjs) may use: the unit,
 * repository and stage-processor tests beside the money core. Not the gateway, CLI, e2e or
 * fault-injection files: they start processes or whole pipelines and would make every mutant slow.
 * Stryker runs the files here in threads, one at a time, and picks per mutant the tests that cover it.
 */
export default defineConfig({
  test: {
    ...shared,
    include: ['shared/**/*.test.ts', 'queues/**/*.test.ts'],
    // Buys a record in beforeAll: hits outside any test make Stryker run every test for those mutants
    // ("static" mutants), which multiplies the run's time; it proves key rotation, not the money core.
    exclude: [...notTests, 'shared/crypto/rotate.security.test.ts'],
  },
});
