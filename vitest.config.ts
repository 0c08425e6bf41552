import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Temporal's native runtime and worker threads do not mix with vitest's thread pool.
    pool: 'forks',
    // Files run one after another: they share one stack, and the sandbox gateway's fault
    // switches (5xx, timeouts, pending refunds) are global to it.
    fileParallelism: false,
    globalSetup: ['test/setup/global-stack.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
