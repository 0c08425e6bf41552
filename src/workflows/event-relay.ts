import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EventActivities } from '../activities/events.js';

export const EVENT_RELAY_WORKFLOW_ID = 'paysaga-event-relay';

export interface EventRelayInput {
  /** The task queue of the workers that have broker sinks (only they run the relay's activity). */
  activityTaskQueue: string;
  forMs?: number;
  batchSize?: number;
  idlePollMs?: number;
}

/** Attempts per run before the history is handed to a new run. */
const ATTEMPTS_PER_RUN = 100;

/**
 * Copies the outbox to the brokers, forever: one activity at a time, so events leave in the
 * order they were written. Each attempt relays for a while and returns; a failing one (a broker
 * down) is retried with backoff up to 10 s apart for as long as it takes. Operators see it in the
 * Web UI as `paysaga-event-relay`: a pending activity with a growing attempt count is a broker
 * that is down.
 */
export async function eventRelay(input: EventRelayInput): Promise<void> {
  const { relayOutbox } = proxyActivities<EventActivities>({
    taskQueue: input.activityTaskQueue,
    startToCloseTimeout: '2m',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  for (let attempt = 0; attempt < ATTEMPTS_PER_RUN; attempt++) {
    await relayOutbox({
      forMs: input.forMs ?? 30_000,
      batchSize: input.batchSize ?? 500,
      // A committed event wakes the relay at once (NOTIFY); this is the fallback poll.
      idlePollMs: input.idlePollMs ?? 1000,
    });
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await continueAsNew<typeof eventRelay>(input);
}
