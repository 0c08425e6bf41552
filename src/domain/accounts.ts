import type { Currency } from './money.js';

/** System accounts each tenant has per currency. */
export const SYSTEM_ACCOUNTS = ['gateway_clearing', 'merchant_revenue', 'refunds'] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

export function walletAccountId(tenantId: string, customerId: string, currency: Currency): string {
  return `wallet:${tenantId}:${currency}:${customerId}`;
}

export function systemAccountId(tenantId: string, name: SystemAccount, currency: Currency): string {
  return `system:${tenantId}:${currency}:${name}`;
}
