/**
 * Defaults shared by the configuration (src/config.ts) and the workflow contract: the task queue
 * and the durable windows. Plain values, so the configuration needs nothing from Temporal.
 */
export const TASK_QUEUE = 'paysaga-payments';

export interface PaymentTimeouts {
  /** How long an uncaptured authorization lives before it is voided (default 7 days). */
  authorizationWindowMs: number;
  /** How long the customer has to complete 3-D Secure (default 15 minutes). */
  actionWindowMs: number;
}

export const DEFAULT_TIMEOUTS: PaymentTimeouts = {
  authorizationWindowMs: 7 * 24 * 60 * 60 * 1000,
  actionWindowMs: 15 * 60 * 1000,
};

/** How long a gateway refund may stay pending before it is flagged requires_attention. */
export const DEFAULT_REFUND_PENDING_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;
