import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks.js';
import { ENDPOINT_GONE, WEBHOOK_RETRY } from '../domain/webhooks.js';

export interface WebhookEndpointInput {
  endpointId: string;
}

export function webhookEndpointWorkflowId(endpointId: string): string {
  return `webhook-endpoint:${endpointId}`;
}

/** New deliveries are waiting (sent by the event relay after it creates them). */
export const deliveriesSignal = defineSignal('deliveries');

const BATCH = 20;
const ROUNDS_PER_RUN = 100;

const store = proxyLocalActivities<WebhookActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', maximumInterval: '10s' },
});

/** One attempt per activity attempt; Temporal keeps the schedule, durably. */
const send = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: WEBHOOK_RETRY.giveUpAfterMs,
  retry: {
    initialInterval: WEBHOOK_RETRY.initialIntervalMs,
    backoffCoefficient: WEBHOOK_RETRY.backoffCoefficient,
    maximumInterval: WEBHOOK_RETRY.maximumIntervalMs,
    nonRetryableErrorTypes: [ENDPOINT_GONE],
  },
});

/**
 * One workflow per endpoint (`webhook-endpoint:{id}`) sends its deliveries one at a time, oldest
 * first, so a merchant receives each payment's events in order, and a receiver that is down
 * holds the line rather than receiving later events first. Each delivery is retried for up to
 * 3 days; then it is marked failed and the next goes. A 410 disables the endpoint and ends the
 * workflow. Idle, it waits for the relay's signal.
 */
export async function webhookEndpointWorkflow(input: WebhookEndpointInput): Promise<void> {
  let poked = true;
  setHandler(deliveriesSignal, () => {
    poked = true;
  });
  for (let round = 0; round < ROUNDS_PER_RUN; round++) {
    await condition(() => poked);
    poked = false;
    const next = await store.pendingWebhookDeliveries({ endpointId: input.endpointId, limit: BATCH });
    if (next.status !== 'enabled') return;
    for (const deliveryId of next.deliveries) {
      try {
        await send.deliverWebhook({ deliveryId });
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        const cause = error.cause;
        if (cause instanceof ApplicationFailure && cause.type === ENDPOINT_GONE) {
          await store.disableWebhookEndpoint({
            endpointId: input.endpointId,
            reason: 'the endpoint answered 410 Gone',
          });
          return;
        }
        await store.failWebhookDelivery({
          deliveryId,
          reason: `not accepted within 3 days: ${cause?.message ?? error.message}`,
        });
      }
    }
    if (next.deliveries.length === BATCH) poked = true;
  }
  await continueAsNew<typeof webhookEndpointWorkflow>(input);
}
