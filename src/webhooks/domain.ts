/**
 * Outgoing webhooks: the retry schedule (shared by the endpoint workflow and the attempt records),
 * the event types an endpoint may subscribe to, and the names the endpoint workflows answer to.
 * Nothing here does I/O.
 */

/** 1 min, 2, 4 ... doubling to at most 1 h apart, for 3 days from the first attempt. */
export const WEBHOOK_RETRY = {
  initialIntervalMs: 60_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 3_600_000,
  giveUpAfterMs: 3 * 24 * 3_600_000,
} as const;

/** As many as Stripe allows: each is a workflow and a share of every event's fan-out. */
export const MAX_ENDPOINTS_PER_TENANT = 16;

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** An HTTP attempt gets this long to answer. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;

/** The wait after attempt `attempt` (1-based) fails, before the next one. */
export function webhookRetryDelayMs(attempt: number): number {
  const delay = WEBHOOK_RETRY.initialIntervalMs * WEBHOOK_RETRY.backoffCoefficient ** (attempt - 1);
  return Math.min(delay, WEBHOOK_RETRY.maximumIntervalMs);
}

export const WEBHOOK_EVENT_TYPES = [
  'payment.created',
  'payment.requires_action',
  'payment.requires_capture',
  'payment.attempt_failed',
  'payment.succeeded',
  'payment.failed',
  'payment.canceled',
  'payment.requires_attention',
  'refund.pending',
  'refund.succeeded',
  'refund.failed',
  'refund.requires_attention',
  'wallet.updated',
  'wallet.auto_top_up.succeeded',
  'wallet.auto_top_up.failed',
  'checkout_session.created',
  'checkout_session.completed',
  'checkout_session.expired',
] as const;

/** Does an endpoint subscribed to `events` (null: all) want this event type? */
export function endpointWants(events: readonly string[] | null, type: string): boolean {
  return events === null || events.includes('*') || events.includes(type);
}

/** The failure type of an endpoint that answered 410 Gone: it is disabled, not retried. */
export const ENDPOINT_GONE = 'EndpointGone';

export interface WebhookEndpointInput {
  endpointId: string;
}

/**
 * The endpoint workflow's type and signal, by name: the relay's sink starts and wakes it without
 * loading workflow code (./workflow.ts defines both under these names).
 */
export const WEBHOOK_ENDPOINT_WORKFLOW = 'webhookEndpointWorkflow';
export const DELIVERIES_SIGNAL = 'deliveries';

export function webhookEndpointWorkflowId(endpointId: string): string {
  return `webhook-endpoint:${endpointId}`;
}

export function webhookRetryWorkflowId(deliveryId: string): string {
  return `webhook-retry:${deliveryId}`;
}
