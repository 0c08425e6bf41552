import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors.js';

/**
 * PostgreSQL steps (ledger, persistence, outbox) run as local activities: short, idempotent by
 * their ids, and retried without a budget because they must eventually succeed. Running them in
 * the worker's workflow task saves a server round trip per step; a crash re-runs the step,
 * which the transfer ids and version guards make a no-op.
 */
export const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: {
    initialInterval: '100ms',
    maximumInterval: '10s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
});

/** The gateway gets a retry budget; once spent, the payment or refund fails with `processing_error`. */
export const GATEWAY_RETRY_BUDGET = {
  maximumAttempts: 8,
  initialInterval: '500ms',
  maximumInterval: '20s',
} as const;

/** Gateway calls stay regular activities: external, slower, and visible one by one in the Web UI. */
export const gateway = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    ...GATEWAY_RETRY_BUDGET,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
});
