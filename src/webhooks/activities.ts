import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { deliveryContext, failDelivery, nextDeliveries, updateEndpoint } from './store.js';
import { ENDPOINT_GONE, WEBHOOK_RETRY, webhookRetryDelayMs } from './domain.js';
import { attemptDelivery, type DeliveryDeps } from './deliver.js';

/** The activities of a webhook endpoint's workflow. */
export function createWebhookActivities(deps: DeliveryDeps) {
  return {
    /** The next deliveries in order; none left marks the endpoint idle (its workflow then waits for a signal). */
    async pendingWebhookDeliveries(input: { endpointId: string; limit: number }) {
      return nextDeliveries(deps.db, input.endpointId, input.limit);
    },

    /**
     * One attempt (Temporal schedules the next ones, 1 min doubling to 1 h apart, for 3 days).
     * Throws when the endpoint did not take it: `EndpointGone` (410, final) or a retryable failure.
     */
    async deliverWebhook(input: {
      deliveryId: string;
    }): Promise<'delivered' | 'already-delivered' | 'missing' | 'endpoint-inactive'> {
      const info = Context.current().info;
      const giveUpAt = info.scheduledTimestampMs + WEBHOOK_RETRY.giveUpAfterMs;
      const result = await attemptDelivery(deps, input.deliveryId, {
        trigger: 'workflow',
        attempt: info.attempt,
        nextRetryAt: (now) => {
          const next = now.getTime() + webhookRetryDelayMs(info.attempt);
          return next < giveUpAt ? new Date(next) : undefined;
        },
      });
      if (result.outcome !== 'failed') return result.outcome;
      if (result.statusCode === 410)
        throw ApplicationFailure.create({
          type: ENDPOINT_GONE,
          message: 'the endpoint answered 410 Gone',
          nonRetryable: true,
          category: ApplicationFailureCategory.BENIGN,
        });
      // A merchant's endpoint being down is expected: retried without a warning per attempt.
      throw ApplicationFailure.create({
        type: 'WebhookNotAccepted',
        message: result.error ?? `the endpoint answered ${result.statusCode}`,
        category: ApplicationFailureCategory.BENIGN,
      });
    },

    /** One manual attempt (recorded as `manual`); the delivery's scheduled retries stay as they were. */
    async retryWebhookDelivery(input: { deliveryId: string }): Promise<void> {
      const context = await deliveryContext(deps.db, input.deliveryId);
      if (!context) return;
      await attemptDelivery(deps, input.deliveryId, {
        trigger: 'manual',
        attempt: context.delivery.attempts + 1,
        nextRetryAt: () => context.delivery.nextAttemptAt ?? undefined,
      });
    },

    async failWebhookDelivery(input: { deliveryId: string; reason: string }): Promise<void> {
      await failDelivery(deps.db, input.deliveryId, input.reason);
    },

    async disableWebhookEndpoint(input: { endpointId: string; reason: string }): Promise<void> {
      await updateEndpoint(deps.db, input.endpointId, { status: 'disabled', disabledReason: input.reason });
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
