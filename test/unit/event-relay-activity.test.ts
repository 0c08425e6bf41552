import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEventActivities } from '../../src/activities/events.js';
import type { Executor } from '../../src/db/client.js';
import type { HubListener } from '../../src/events/hub.js';

/**
 * The relay activity's pacing, on fake timers: an outbox that is a counter, a hub that announces
 * each commit. What is measured is how many reads it takes to publish the events.
 */
function relayWith(coalesceMs: number) {
  let outbox = 0;
  const reads: { at: number; count: number }[] = [];
  const listeners = new Set<HubListener>();
  const activities = createEventActivities({
    db: {} as Executor,
    sinks: [],
    hub: {
      subscribe: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    coalesceMs,
    relay: (_sink, limit) => {
      const count = Math.min(outbox, limit);
      outbox -= count;
      reads.push({ at: Date.now(), count });
      return Promise.resolve({ count, lastSeq: undefined });
    },
  });
  const commit = () => {
    outbox += 1;
    for (const listener of listeners) {
      listener({ seq: 0, tenantId: 't', subject: 's', type: 'payment.succeeded', customerId: null });
    }
  };
  return { activities, reads, commit, left: () => outbox };
}

/** A lone event at 300 ms, then one every 10 ms from 310 to 400 ms, over 1.2 s of relaying. */
async function scenario(coalesceMs: number) {
  const relay = relayWith(coalesceMs);
  const started = Date.now();
  const run = new MockActivityEnvironment().run((input) => relay.activities.relayOutbox(input), {
    sink: 'webhooks',
    forMs: 1_200,
    batchSize: 500,
    idlePollMs: 1_000,
  });
  await vi.advanceTimersByTimeAsync(300);
  relay.commit();
  for (let i = 0; i < 10; i++) {
    await vi.advanceTimersByTimeAsync(10);
    relay.commit();
  }
  await vi.advanceTimersByTimeAsync(2_000);
  const result = await run;
  const published = relay.reads
    .filter((read) => read.count > 0)
    .map((read) => ({ ...read, at: read.at - started }));
  return { result, published, left: relay.left() };
}

describe('the event relay activity', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads at most once per EVENT_RELAY_COALESCE_MS: eleven events go out in three batches, the lone first one at once', async () => {
    const { result, published, left } = await scenario(100);
    expect(left).toBe(0);
    expect(result).toEqual({ published: 11, batches: 3 });
    expect(published).toEqual([
      { at: 300, count: 1 },
      // 310 to 390 ms; the one committed at 400 ms came after that read began.
      { at: 400, count: 9 },
      { at: 500, count: 1 },
    ]);
  });

  it('with 0 reads at every committed event', async () => {
    const { result, published, left } = await scenario(0);
    expect(left).toBe(0);
    expect(result).toEqual({ published: 11, batches: 11 });
    expect(published[0]).toEqual({ at: 300, count: 1 });
  });

  it("a sink's sweep runs when an attempt starts and once a minute after, not at every read", async () => {
    const sweeps: number[] = [];
    const activities = createEventActivities({
      db: {} as Executor,
      sinks: [
        {
          name: 'webhooks',
          publish: () => Promise.resolve(),
          sweep: () => {
            sweeps.push(Date.now());
            return Promise.resolve();
          },
          close: () => Promise.resolve(),
        },
      ],
      relay: () => Promise.resolve({ count: 0, lastSeq: undefined }),
    });
    const started = Date.now();
    const run = new MockActivityEnvironment().run((input) => activities.relayOutbox(input), {
      sink: 'webhooks',
      forMs: 150_000,
      batchSize: 500,
      idlePollMs: 1_000,
    });
    await vi.advanceTimersByTimeAsync(152_000);
    await run;
    // About 150 reads (one a second when idle), three sweeps: at 0, 60 and 120 s.
    expect(sweeps.map((at) => Math.round((at - started) / 1000))).toEqual([0, 60, 120]);
  });
});
