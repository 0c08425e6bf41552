import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookActivities } from './activities.js';
import { DELIVERIES_SIGNAL, ENDPOINT_GONE, WEBHOOK_RETRY, type WebhookEndpointInput } from './domain.js';

/** New deliveries are waiting (sent by the event relay, only to an idle endpoint: ./sink.ts). */
const deliveriesSignal = defineSignal(DELIVERIES_SIGNAL);

const BATCH = 20;
/**
 * A run hands over to a new one when Temporal suggests it or its history reaches this many
 * events, whichever is first: a count of what happened, not of deliveries completed, so a run
 * whose receiver is down for days does not grow without bound.
 */
export const ENDPOINT_HISTORY_EVENTS_PER_RUN = 2_000;

function timeToContinueAsNew(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= ENDPOINT_HISTORY_EVENTS_PER_RUN;
}

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
 * workflow. It reads what to send from PostgreSQL; finding nothing marks the endpoint idle, and
 * idle it waits for the relay's signal.
 */
export async function webhookEndpointWorkflow(input: WebhookEndpointInput): Promise<void> {
  let poked = true;
  setHandler(deliveriesSignal, () => {
    poked = true;
  });
  while (!timeToContinueAsNew()) {
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
    // Read again until a read finds none: only that marks the endpoint idle, and only an idle
    // endpoint is signalled.
    if (next.deliveries.length > 0) poked = true;
  }
  await continueAsNew<typeof webhookEndpointWorkflow>(input);
}

const sendNow = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 1 },
});

/**
 * A merchant's "send it again now" (POST .../deliveries/{id}/retry): one attempt, made by a worker
 * like every scheduled one (so it leaves from where deliveries leave, through the same address
 * checks), whatever the delivery's status; the endpoint's own workflow is not disturbed.
 */
export async function webhookManualRetry(input: { deliveryId: string }): Promise<void> {
  await sendNow.retryWebhookDelivery(input);
}
