import { Context } from '@temporalio/activity';
import type { Executor } from '../db/client.js';
import { relayBatch } from '../db/outbox.js';
import type { CloudEvent } from '../domain/events.js';
import { withOrderReplies } from '../events/order-replies.js';
import type { EventHub } from '../events/hub.js';
import type { EventSink } from '../events/sink.js';

export interface RelayOutboxInput {
  /** How long one attempt relays before it returns (the workflow then calls it again). */
  forMs: number;
  batchSize: number;
  /** The longest pause after finding the outbox empty (a committed event ends it at once). */
  idlePollMs: number;
}

export interface RelayOutboxResult {
  published: number;
  batches: number;
}

/**
 * The event relay's activity: copies the outbox to every broker sink, oldest event first, and
 * marks what the brokers confirmed. A broker that refuses or is down makes the attempt fail;
 * Temporal retries it with backoff, and the same events go out again once the broker is back.
 * Registered only by workers that have broker sinks, on their own task queue.
 */
export function createEventActivities(deps: {
  db: Executor;
  sinks: readonly EventSink[];
  /** Wakes the relay when an event is committed; without it the relay polls. */
  hub?: EventHub | undefined;
}) {
  const publishToAll = async (list: CloudEvent[]) => {
    const messages = withOrderReplies(list);
    for (const sink of deps.sinks) await sink.publish(messages);
  };
  return {
    async relayOutbox(input: RelayOutboxInput): Promise<RelayOutboxResult> {
      const context = Context.current();
      const until = Date.now() + input.forMs;
      const result: RelayOutboxResult = { published: 0, batches: 0 };
      // Set by every event committed since the last read, so one that lands between a read and
      // the wait is not left for the next poll.
      let committed = false;
      let wake: (() => void) | undefined;
      const unsubscribe = deps.hub?.subscribe((notice) => {
        if (notice === 'resync') return;
        committed = true;
        wake?.();
      });
      try {
        while (Date.now() < until) {
          committed = false;
          const batch = await relayBatch(deps.db, input.batchSize, publishToAll);
          context.heartbeat(result);
          if (batch.count > 0) {
            result.published += batch.count;
            result.batches += 1;
          }
          // A full batch may have left more behind; otherwise what is left was committed since
          // the read began, and announced (a read now would mostly find nothing).
          if (batch.count < input.batchSize && !committed) {
            // Until the next event is committed (PostgreSQL NOTIFY), the poll interval passes,
            // or the activity is cancelled (the relay workflow was stopped).
            const cancelled = context.cancellationSignal;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(done, input.idlePollMs);
              wake = done;
              cancelled.addEventListener('abort', done, { once: true });
              function done() {
                clearTimeout(timer);
                cancelled.removeEventListener('abort', done);
                wake = undefined;
                resolve();
              }
            });
            if (cancelled.aborted) break;
          }
        }
      } finally {
        unsubscribe?.();
      }
      return result;
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;
