import { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import type { EventActivities, RelayOutboxInput } from '../../src/activities/events.js';
import { eventRelay } from '../../src/workflows/event-relay.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe('eventRelay (time-skipping server, fake activity)', () => {
  it('relays one attempt at a time, retries a failing broker with backoff, and hands over to a new run', async () => {
    const calls: { attempt: number; input: RelayOutboxInput }[] = [];
    let failuresLeft = 3;
    const activities: EventActivities = {
      async relayOutbox(input) {
        calls.push({ attempt: Context.current().info.attempt, input });
        if (calls.length >= 2 && failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('broker unavailable');
        }
        return { published: 1, batches: 1 };
      },
    };
    await suite.withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(eventRelay, {
        taskQueue,
        workflowId: `relay-${taskQueue}`,
        args: [{ activityTaskQueue: taskQueue, forMs: 1000 }],
      });
      // 100 attempts per run, then continue-as-new: the relay never ends on its own.
      await until(() => calls.length >= 110);
      const latest = await suite.env.client.workflow.getHandle(handle.workflowId).describe();
      expect(latest.status.name).toBe('RUNNING');
      expect(latest.runId).not.toBe(handle.firstExecutionRunId);
      await handle.terminate('test over');
    });
    // The failing call was the same activity retried (attempts 1..4), not a new one skipped past.
    expect(calls.slice(1, 5).map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
    expect(calls[0]!.input).toEqual({ forMs: 1000, batchSize: 500, idlePollMs: 1000 });
  });

  it('records the history the replay test keeps (a few attempts, one retried)', async () => {
    let calls = 0;
    const activities: EventActivities = {
      async relayOutbox() {
        calls += 1;
        if (calls === 2) throw new Error('broker unavailable');
        return { published: calls, batches: 1 };
      },
    };
    await suite.withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(eventRelay, {
        taskQueue,
        workflowId: `relay-${taskQueue}`,
        args: [{ activityTaskQueue: taskQueue }],
      });
      await until(() => calls >= 5);
      await handle.terminate('fixture recorded');
      const history = await handle.fetchHistory();
      const completed = history.events?.filter((e) => e.activityTaskCompletedEventAttributes) ?? [];
      expect(completed.length).toBeGreaterThanOrEqual(3);
      await recordHistory(handle, 'eventrelay');
    });
  });
});
