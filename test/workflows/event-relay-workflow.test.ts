import { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import type { EventActivities, RelayOutboxInput } from '../../src/activities/events.js';
import { eventRelay, relaySinksChangedSignal } from '../../src/workflows/event-relay.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe('eventRelay (time-skipping server, fake activity)', () => {
  it('one loop per sink: a sink that keeps failing holds neither the others nor the hand-over to a new run', async () => {
    const calls: { sink: string | undefined; attempt: number; input: RelayOutboxInput }[] = [];
    let kafkaDown = true;
    let kafkaRelayed = 0;
    const activities: EventActivities = {
      async relaySinks() {
        return ['webhooks', 'kafka'];
      },
      async relayOutbox(input) {
        calls.push({ sink: input.sink, attempt: Context.current().info.attempt, input });
        if (input.sink === 'kafka' && kafkaDown) throw new Error('broker unavailable');
        if (input.sink === 'kafka') kafkaRelayed += 1;
        return { published: 1, batches: 1 };
      },
    };
    const count = (sink: string) => calls.filter((call) => call.sink === sink).length;
    await suite.withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(eventRelay, {
        taskQueue,
        workflowId: `relay-${taskQueue}`,
        args: [{ activityTaskQueue: taskQueue, forMs: 1000 }],
      });
      // 100 completed attempts per run, then continue-as-new, while Kafka's attempt is still
      // being retried: the webhooks loop goes on into the next run.
      await until(() => count('webhooks') >= 110);
      const latest = await suite.env.client.workflow.getHandle(handle.workflowId).describe();
      expect(latest.status.name).toBe('RUNNING');
      expect(latest.runId).not.toBe(handle.firstExecutionRunId);
      expect(count('kafka')).toBeGreaterThanOrEqual(1);
      expect(kafkaRelayed).toBe(0);
      // Kafka back: its loop relays again, attempt after attempt.
      kafkaDown = false;
      await until(() => kafkaRelayed >= 2);
      await handle.terminate('test over');
    });
    // Both loops start at once, in either order.
    expect(calls.find((call) => call.sink === 'webhooks')!.input).toEqual({
      sink: 'webhooks',
      forMs: 1000,
      batchSize: 500,
      idlePollMs: 1000,
    });
  });

  it('a worker that starts with a sink added hands the run over to one that relays to it too', async () => {
    let sinks = ['webhooks'];
    const relayed = new Set<string>();
    const activities: EventActivities = {
      async relaySinks() {
        return sinks;
      },
      async relayOutbox(input) {
        relayed.add(input.sink ?? '');
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { published: 0, batches: 0 };
      },
    };
    await suite.withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(eventRelay, {
        taskQueue,
        workflowId: `relay-${taskQueue}`,
        args: [{ activityTaskQueue: taskQueue, forMs: 1000 }],
      });
      await until(() => relayed.has('webhooks'));
      sinks = ['webhooks', 'profile:default:transit'];
      await handle.signal(relaySinksChangedSignal);
      await until(() => relayed.has('profile:default:transit'));
      const latest = await suite.env.client.workflow.getHandle(handle.workflowId).describe();
      expect(latest.runId).not.toBe(handle.firstExecutionRunId);
      await handle.terminate('test over');
    });
  });

  it('records the history the replay test keeps (two sinks, one retried)', async () => {
    let calls = 0;
    const activities: EventActivities = {
      async relaySinks() {
        return ['webhooks', 'kafka'];
      },
      async relayOutbox(input) {
        calls += 1;
        if (input.sink === 'kafka' && Context.current().info.attempt === 1)
          throw new Error('broker unavailable');
        return { published: calls, batches: 1 };
      },
    };
    await suite.withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(eventRelay, {
        taskQueue,
        workflowId: `relay-${taskQueue}`,
        args: [{ activityTaskQueue: taskQueue }],
      });
      await until(() => calls >= 6);
      await handle.terminate('fixture recorded');
      const history = await handle.fetchHistory();
      const completed = history.events?.filter((e) => e.activityTaskCompletedEventAttributes) ?? [];
      expect(completed.length).toBeGreaterThanOrEqual(3);
      await recordHistory(handle, 'eventrelay-per-sink');
    });
  });
});
