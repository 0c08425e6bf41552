/** API keys of the extra tenants the test stack configures. */
export const TENANT_KEYS = {
  badinput: 'sk_test_badinput',
  other: 'sk_test_other',
  /** Two keys of tenant `ratelimited`, the one tenant whose limit (100 a minute) a test reaches. */
  ratelimitedA: 'sk_test_ratelimited_a',
  ratelimitedB: 'sk_test_ratelimited_b',
  /** Tenant `reports`: only test/integration/reports.test.ts writes its payments. */
  reports: 'sk_test_reports',
  /** Tenant `reports-1m`: the million payments the report's speed is measured on. */
  reports1m: 'sk_test_reports_1m',
  /** Tenant `single`: one attempt per order (SINGLE_ATTEMPT_TENANTS), the first decline is final. */
  single: 'sk_test_single',
  /** Tenants bound to the shipped integration profiles (test/integration/profiles.test.ts). */
  transit: 'sk_test_transit',
  rides: 'sk_test_rides',
  foodies: 'sk_test_foodies',
  /** Tenant `stripeco`, whose payments go through the Stripe connector (stripe-mock). */
  stripeco: 'sk_test_stripeco',
} as const;

/** Tenant `stripeco`'s own Stripe credentials in the test stack (secrets the logs must never show). */
export const STRIPECO_STRIPE = {
  apiKey: 'sk_test_51StripecoSecretKeyNeverLogged0123456789',
  webhookSecret: 'whsec_stripecoWebhookSecretNeverLogged',
} as const;

/** Tenant `other`'s command secret in the test stack (tenant `default` signs with DEV_COMMAND_SECRET). */
export const OTHER_COMMAND_SECRET = 'cmdsec_test_other_tenant';
