/** API keys of the extra tenants the test stack configures. */
export const TENANT_KEYS = {
  badinput: 'sk_test_badinput',
  other: 'sk_test_other',
} as const;
