import {
  CancellationScope,
  condition,
  continueAsNew,
  defineSignal,
  setHandler,
  isCancellation,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { EventActivities } from '../activities/events.js';

export const EVENT_RELAY_WORKFLOW_ID = 'paysaga-event-relay';

/**
 * A worker (re)started, maybe with other sinks (a broker or an integration profile added): the
 * run hands over to a new one, which asks the workers for their sinks again.
 */
export const relaySinksChangedSignal = defineSignal('relaySinksChanged');

export interface EventRelayInput {
  /** The task queue of the relay worker (only it runs the relay's activities). */
  activityTaskQueue: string;
  forMs?: number;
  batchSize?: number;
  idlePollMs?: number;
}

/**
 * Attempts completed per run before the history is handed to a new run (or sooner, when
 * Temporal suggests it): a count of what happened, whatever the sinks' progress.
 */
const ATTEMPTS_PER_RUN = 100;

/**
 * Copies the outbox to every sink (merchants' webhook endpoints, Kafka, RabbitMQ), forever: one
 * loop of attempts per sink, each on that sink's own cursor, so a sink that is down holds no
 * other. Within a sink one attempt runs at a time, so its events leave in the order they were
 * written. Each attempt relays for a while and returns; a failing one (its broker down) is
 * retried with backoff up to 10 s apart for as long as it takes. Operators see it in the Web UI
 * as `paysaga-event-relay`: a pending activity with a growing attempt count is a sink that is
 * down, and its `sink` argument says which.
 */
export async function eventRelay(input: EventRelayInput): Promise<void> {
  const { relayOutbox, relaySinks } = proxyActivities<EventActivities>({
    taskQueue: input.activityTaskQueue,
    startToCloseTimeout: '2m',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  const settings = {
    forMs: input.forMs ?? 30_000,
    batchSize: input.batchSize ?? 500,
    // A committed event wakes the relay at once (NOTIFY); this is the fallback poll.
    idlePollMs: input.idlePollMs ?? 1000,
  };
  if (!patched('relay-per-sink')) {
    // Runs started before sinks had cursors: every sink in one attempt.
    for (let attempt = 0; attempt < ATTEMPTS_PER_RUN; attempt++) {
      await relayOutbox(settings);
      if (workflowInfo().continueAsNewSuggested) break;
    }
    return continueAsNew<typeof eventRelay>(input);
  }
  let sinksChanged = false;
  setHandler(relaySinksChangedSignal, () => {
    sinksChanged = true;
  });
  const sinks = await relaySinks();
  let completed = 0;
  const loops = new CancellationScope();
  const relaying = loops.run(() =>
    Promise.all(
      sinks.map(async (sink) => {
        for (;;) {
          await relayOutbox({ sink, ...settings });
          completed += 1;
        }
      }),
    ),
  );
  relaying.catch(() => undefined);
  await condition(
    () => sinksChanged || completed >= ATTEMPTS_PER_RUN || workflowInfo().continueAsNewSuggested,
  );
  // The attempts under way are abandoned (their sinks' cursors keep what they did) and the new
  // run starts its own; a sink that is down does not hold the hand-over.
  loops.cancel();
  await relaying.catch((error: unknown) => {
    if (!isCancellation(error)) throw error;
  });
  return continueAsNew<typeof eventRelay>(input);
}
