import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing; integration tests (`*.int.test.ts`) share one throwaway
// PostgreSQL per run, started by the global setup, and each isolates itself in its own database.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 60_000,
          // Unit tests first, then the integration tests with their own worker limit.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores here: a few files at a time keeps the server from being the bottleneck.
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
