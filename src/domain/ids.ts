/**
 * Workflow ids and resource ids. Every id is built here, never by concatenation at a call site,
 * so the API, the worker and the webhooks agree on them.
 */
const PAYMENT_PREFIX = 'payment';
const REFUND_PREFIX = 'refund';
const TOPUP_PREFIX = 'topup';

export function paymentWorkflowId(tenantId: string, orderId: string): string {
  return `${PAYMENT_PREFIX}:${tenantId}:${orderId}`;
}

export function parsePaymentWorkflowId(
  workflowId: string,
): { tenantId: string; orderId: string } | undefined {
  const [prefix, tenantId, ...rest] = workflowId.split(':');
  if (prefix !== PAYMENT_PREFIX || !tenantId || rest.length === 0) return undefined;
  return { tenantId, orderId: rest.join(':') };
}

export function refundWorkflowId(tenantId: string, paymentId: string, refundKey: string): string {
  return `${REFUND_PREFIX}:${tenantId}:${paymentId}:${refundKey}`;
}

export function topUpWorkflowId(tenantId: string, customerId: string, topUpKey: string): string {
  return `${TOPUP_PREFIX}:${tenantId}:${customerId}:${topUpKey}`;
}

/** Ledger transfer ids are derived from the workflow and the step, so a retried step is a no-op. */
export function transferId(workflowId: string, step: string): string {
  return `${workflowId}#${step}`;
}

/** Gateway idempotency keys: one per workflow step, reused on every retry of that step. */
export function gatewayIdempotencyKey(workflowId: string, step: string): string {
  return `${workflowId}#${step}`;
}

/** CloudEvents ids: deterministic per workflow and event, so a republished event has the same id. */
export function eventId(workflowId: string, type: string, seq: number): string {
  return `${workflowId}#${type}#${seq}`;
}
