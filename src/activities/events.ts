import { Context } from '@temporalio/activity';
import type { Executor } from '../db/client.js';
import { relayBatch, type RelayedBatch } from '../db/outbox.js';
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
  hub?: Pick<EventHub, 'subscribe'> | undefined;
  /**
   * The shortest time between two reads of the outbox (EVENT_RELAY_COALESCE_MS): an event
   * committed sooner after a read waits for the rest of it, with the others committed
   * meanwhile. 0: every committed event is read at once.
   */
  coalesceMs?: number | undefined;
  /** Reads, publishes and marks one batch (default: the outbox in `db`, to `sinks`). */
  relay?: ((limit: number) => Promise<RelayedBatch>) | undefined;
}) {
  const publishToAll = async (list: CloudEvent[]) => {
    const messages = withOrderReplies(list);
    for (const sink of deps.sinks) await sink.publish(messages);
  };
  const relay = deps.relay ?? ((limit: number) => relayBatch(deps.db, limit, publishToAll));
  const coalesceMs = deps.coalesceMs ?? 0;
  return {
    async relayOutbox(input: RelayOutboxInput): Promise<RelayOutboxResult> {
      const context = Context.current();
      const cancelled = context.cancellationSignal;
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
      /** Waits `ms` (or, with `untilCommitted`, less if an event is committed); false once cancelled. */
      const pause = (ms: number, untilCommitted: boolean) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(done, ms);
          if (untilCommitted) wake = done;
          cancelled.addEventListener('abort', done, { once: true });
          function done() {
            clearTimeout(timer);
            cancelled.removeEventListener('abort', done);
            wake = undefined;
            resolve(!cancelled.aborted);
          }
        });
      try {
        while (Date.now() < until) {
          committed = false;
          const readAt = Date.now();
          const batch = await relay(input.batchSize);
          context.heartbeat(result);
          if (batch.count > 0) {
            result.published += batch.count;
            result.batches += 1;
          }
          // A full batch may have left more behind: read on at once.
          if (batch.count >= input.batchSize) continue;
          // Otherwise until the next event is committed (PostgreSQL NOTIFY) or the poll interval
          // passes; an event committed since the read began has been announced already.
          if (!committed && !(await pause(input.idlePollMs, true))) break;
          // Reads are at least `coalesceMs` apart: a lone event goes out at once, and under load
          // the events committed meanwhile share a batch, which costs the same round trips
          // whatever its size (one batch per payment was most of the relay's cost).
          const early = readAt + coalesceMs - Date.now();
          if (committed && early > 0 && !(await pause(early, false))) break;
        }
      } finally {
        unsubscribe?.();
      }
      return result;
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;
