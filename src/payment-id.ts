import { sha256 } from './hash.js';

/**
 * A payment's public id, derived from its tenant and order (as its workflow id is), so the API,
 * the worker's logs and the consumer name the same payment without a lookup. Not in
 * src/domain/ids.ts: that module is also loaded by workflows, which have no node:crypto.
 */
export function paymentIdFor(tenantId: string, orderId: string): string {
  return `pay_${sha256(`${tenantId}\u0000${orderId}`).slice(0, 24)}`;
}
