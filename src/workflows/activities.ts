import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

const GATEWAY_RETRY = {
  ...GATEWAY_RETRY_BUDGET,
  backoffCoefficient: 2,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Gateway calls as regular activities: how histories started before local ones ran them. */
const remoteGateway = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: GATEWAY_RETRY });

/**
 * Gateway calls as local activities: a card payment is then one workflow task instead of three
 * plus two activity tasks, which on one Temporal server is most of its cost. Every call carries
 * an idempotency key, so a local activity re-run after a worker crash gets the first answer back.
 * Retries waiting longer than a second become durable timers, not sleeps in the worker.
 */
const localGateway = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  localRetryThreshold: '1s',
  retry: GATEWAY_RETRY,
});

/** The gateway's activities for this workflow: local ones, unless its history ran them remotely. */
export function gatewayActivities() {
  return patched('gateway-local-activities') ? localGateway : remoteGateway;
}

/**
 * An authorization with a fallback connector after it: a short retry budget, since the payment
 * can move on instead of waiting out a failing gateway (a circuit that opens meanwhile moves it
 * at once).
 */
export const failoverGateway = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  localRetryThreshold: '1s',
  retry: {
    maximumAttempts: 3,
    initialInterval: '250ms',
    maximumInterval: '1s',
    backoffCoefficient: 2,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
});

/** The lookup before a move to another connector: a few tries, then the payment stays where it is. */
export const lookupGateway = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  localRetryThreshold: '1s',
  retry: {
    maximumAttempts: 4,
    initialInterval: '500ms',
    maximumInterval: '4s',
    backoffCoefficient: 2,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
});
