import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests run against the sandboxes: the sandbox profile, for the test processes and every process they start.
    env: { SHIPSYNC_ENV: 'sandbox' },
    reporters: ['default'],
  },
});
