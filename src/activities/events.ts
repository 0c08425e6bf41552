import { Context } from '@temporalio/activity';
import type { Executor } from '../db/client.js';
import { relaySinkBatch, type RelayedBatch } from '../db/outbox.js';
import type { EventHub } from '../events/hub.js';
import type { EventSink } from '../events/sink.js';

export interface RelayOutboxInput {
  /**
   * The sink this attempt relays to (each has its own cursor and its own activity, so one that is
   * down holds no other). Absent in runs started before sinks had cursors: every sink in turn.
   */
  sink?: string;
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

/** How often the relay looks for endpoints whose wake-up was lost (src/webhooks/sink.ts). */
const SWEEP_MS = 60_000;

/**
 * The event relay's activities: `relayOutbox` copies the outbox to one sink, oldest event first,
 * and moves that sink's cursor past what it confirmed. A sink that refuses or is down makes its
 * attempt fail; Temporal retries it with backoff, and the same events go out again once it is
 * back, while the other sinks' attempts go on. Registered by the relay worker, on its own task
 * queue.
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
  /** Reads, publishes and marks one batch for a sink (default: the outbox in `db`, to that sink). */
  relay?: ((sink: string, limit: number) => Promise<RelayedBatch>) | undefined;
}) {
  const byName = new Map(deps.sinks.map((sink) => [sink.name, sink]));
  const relayTo = async (name: string, limit: number): Promise<RelayedBatch> => {
    const sink = byName.get(name);
    if (!sink) throw new Error(`this worker has no event sink "${name}"`);
    const batch = await relaySinkBatch(deps.db, name, limit, (list, tx) => sink.publish(list, tx));
    // After the commit: what the sink does once its batch is durable (webhooks wake endpoints).
    await batch.published?.();
    return batch;
  };
  const relay = deps.relay ?? relayTo;
  const coalesceMs = deps.coalesceMs ?? 0;
  return {
    /** The sinks this worker relays to: the relay workflow runs one loop of attempts per sink. */
    async relaySinks(): Promise<string[]> {
      return deps.sinks.map((sink) => sink.name);
    },

    async relayOutbox(input: RelayOutboxInput): Promise<RelayOutboxResult> {
      const names = input.sink === undefined ? deps.sinks.map((sink) => sink.name) : [input.sink];
      const sweepers = deps.sinks.filter((sink) => names.includes(sink.name) && sink.sweep !== undefined);
      let sweptAt = 0;
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
          if (sweepers.length > 0 && readAt - sweptAt >= SWEEP_MS) {
            sweptAt = readAt;
            for (const sink of sweepers) await sink.sweep?.();
          }
          let full = false;
          for (const name of names) {
            const batch = await relay(name, input.batchSize);
            context.heartbeat(result);
            if (batch.count > 0) {
              result.published += batch.count;
              result.batches += 1;
            }
            if (batch.count >= input.batchSize) full = true;
          }
          // A full batch may have left more behind: read on at once.
          if (full) continue;
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
