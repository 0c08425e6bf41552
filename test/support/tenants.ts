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
  /** Tenant `paypalco`: cards on the sandbox, PayPal payments on the PayPal connector (the emulator). */
  paypalco: 'sk_test_paypalco',
  /** Tenant `routed`: EUR cards routed sandbox first, Stripe second (ROUTING_RULES). */
  routed: 'sk_test_routed',
  /** Tenant `outage`: routed as `routed`, with a circuit of its own for the dead-sandbox cases. */
  outage: 'sk_test_outage',
} as const;

/** Tenant `paypalco`'s PayPal credentials in the test stack (secrets the logs must never show). */
export const PAYPALCO_PAYPAL = {
  clientId: 'paypalco-client-id',
  clientSecret: 'paypalcoClientSecretNeverLogged0123456789',
  webhookId: 'WH-PAYPALCO-TEST-0001',
} as const;

/** Tenant `routed`'s Stripe credentials (its fallback connector) in the test stack. */
export const ROUTED_STRIPE = {
  apiKey: 'sk_test_51RoutedSecretKeyNeverLogged0123456789',
  webhookSecret: 'whsec_routedWebhookSecretNeverLogged',
} as const;

/** Tenant `routed`'s rules: EUR cards to the sandbox, then Stripe; the rest as every tenant. */
export const ROUTED_RULES = [{ match: { currency: 'EUR' }, connectors: ['sandbox', 'stripe'] }];

/** Tenant `stripeco`'s own Stripe credentials in the test stack (secrets the logs must never show). */
export const STRIPECO_STRIPE = {
  apiKey: 'sk_test_51StripecoSecretKeyNeverLogged0123456789',
  webhookSecret: 'whsec_stripecoWebhookSecretNeverLogged',
} as const;

/** Tenant `other`'s command secret in the test stack (tenant `default` signs with DEV_COMMAND_SECRET). */
export const OTHER_COMMAND_SECRET = 'cmdsec_test_other_tenant';
