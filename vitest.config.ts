import { defineConfig } from 'vitest/config';

/**
 * Three layers, each starting only what it needs:
 * - unit: pure domain and API-input code, fast-check properties; nothing started;
 * - workflows: the time-skipping test server with fake activities, and replay of the recorded
 *   histories; no PostgreSQL, no dev stack;
 * - integration: one real stack per run (embedded PostgreSQL, the Temporal dev server, the
 *   sandbox gateway, worker and API as processes talking real HTTP).
 * `npm test` runs all three; `npm run test:unit` (and :workflows, :integration) one. With
 * STRIPE_API_KEY set (a test-mode key), `stripe-live` runs the Stripe connector against Stripe;
 * with PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET (a sandbox app), `paypal-live` runs PayPal's.
 */
export default defineConfig({
  test: {
    // Temporal's native runtime and worker threads do not mix with vitest's thread pool.
    pool: 'forks',
    // Two files at a time: the unit and workflow files run beside the integration files, which
    // run one after another in their own fork (they share one stack, and the sandbox gateway's
    // fault switches are global to it).
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'workflows',
          include: ['test/workflows/**/*.test.ts'],
          globalSetup: ['test/setup/temporal-test-server.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/global-stack.ts'],
          poolOptions: { forks: { singleFork: true } },
        },
      },
      // The Stripe connector against a real Stripe test account: only with STRIPE_API_KEY set.
      ...(process.env.STRIPE_API_KEY
        ? [
            {
              extends: true as const,
              test: { name: 'stripe-live', include: ['test/live/stripe-live.test.ts'] },
            },
          ]
        : []),
      // The PayPal connector against PayPal's sandbox: only with a sandbox app's credentials set.
      ...(process.env.PAYPAL_CLIENT_ID && process.env.PAYPAL_CLIENT_SECRET
        ? [
            {
              extends: true as const,
              test: { name: 'paypal-live', include: ['test/live/paypal-live.test.ts'] },
            },
          ]
        : []),
    ],
  },
});
