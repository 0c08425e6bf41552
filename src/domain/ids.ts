/**
 * Workflow ids and resource ids. Every id is built here, never by concatenation at a call site,
 * so the API, the worker and the webhooks agree on them.
 */
import { sha256Hex } from './sha256.js';

const PAYMENT_PREFIX = 'payment';

/**
 * Temporal on SQL persistence keeps workflow ids of at most 255 characters (`varchar(255)`); the
 * dev server's SQLite keeps longer ones. The natural ids below can be longer (a 200-character
 * order id under a long tenant, a refund's 255-character Idempotency-Key).
 */
export const MAX_WORKFLOW_ID_LENGTH = 255;

/**
 * The workflow id Temporal is given for a natural id: the id itself when it fits, which every id
 * of a normal length does (so no running workflow's id changes), else its first 190 characters,
 * `~` (never in an order id, customer id or key Paysaga accepts) and the SHA-256 of the whole.
 */
export function boundedWorkflowId(id: string): string {
  if (id.length <= MAX_WORKFLOW_ID_LENGTH) return id;
  return `${id.slice(0, MAX_WORKFLOW_ID_LENGTH - 65)}~${sha256Hex(id)}`;
}
const REFUND_PREFIX = 'refund';
const TOPUP_PREFIX = 'topup';

export function paymentWorkflowId(tenantId: string, orderId: string): string {
  return `${PAYMENT_PREFIX}:${tenantId}:${orderId}`;
}

export function parsePaymentWorkflowId(
  workflowId: string,
): { tenantId: string; orderId: string } | undefined {
  const [prefix, tenantId, ...rest] = workflowId.split(':');
  // A bounded id (boundedWorkflowId) no longer holds the whole order id.
  if (prefix !== PAYMENT_PREFIX || !tenantId || rest.length === 0 || workflowId.includes('~'))
    return undefined;
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
