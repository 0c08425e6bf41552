import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it, vi } from 'vitest';
import type { WebhookActivities } from '../../src/webhooks/activities.js';
import {
  DELIVERIES_SIGNAL,
  ENDPOINT_GONE,
  WEBHOOK_ENDPOINT_WORKFLOW,
  webhookEndpointWorkflowId,
  webhookRetryDelayMs,
} from '../../src/webhooks/domain.js';
import { webhookEndpointWorkflow } from '../../src/webhooks/workflow.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How long a test waits for what the worker does at wall-clock speed (no timer to skip). */
const WAIT = { timeout: 20_000, interval: 50 };

/** An endpoint with deliveries d1..dN, and a receiver whose answer depends on (skipped) time. */
function fakeEndpoint(deliveries: string[], answer: (sinceFirstMs: number) => number) {
  const pending = [...deliveries];
  const attempts: { deliveryId: string; attempt: number; at: number }[] = [];
  const delivered: string[] = [];
  const state = { status: 'enabled' as 'enabled' | 'disabled', failed: [] as string[], reads: 0 };
  let first: number | undefined;
  const activities: WebhookActivities = {
    async pendingWebhookDeliveries() {
      state.reads++;
      return { status: state.status, deliveries: [...pending] };
    },
    async deliverWebhook({ deliveryId }) {
      const info = Context.current().info;
      const at = info.currentAttemptScheduledTimestampMs;
      first ??= at;
      attempts.push({ deliveryId, attempt: info.attempt, at });
      const status = answer(at - first);
      if (status === 410)
        throw ApplicationFailure.create({ type: ENDPOINT_GONE, nonRetryable: true, message: 'gone' });
      if (status >= 300)
        throw ApplicationFailure.create({ type: 'WebhookNotAccepted', message: `answered ${status}` });
      pending.splice(pending.indexOf(deliveryId), 1);
      delivered.push(deliveryId);
      return 'delivered';
    },
    // A manual retry has its own workflow; the endpoint's never calls it.
    async retryWebhookDelivery() {},
    async failWebhookDelivery({ deliveryId }) {
      pending.splice(pending.indexOf(deliveryId), 1);
      state.failed.push(deliveryId);
    },
    async disableWebhookEndpoint() {
      state.status = 'disabled';
    },
  };
  return { activities, attempts, delivered, pending, state };
}

describe('webhookEndpointWorkflow (time-skipping server, fake activities)', () => {
  it('a receiver down for 2 days gets every delivery, in order, once it is back, on the backoff schedule', async () => {
    const endpoint = fakeEndpoint(['d1', 'd2', 'd3'], (since) => (since < 2 * DAY ? 503 : 200));
    await suite.withWorker(endpoint.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(webhookEndpointWorkflow, {
        taskQueue,
        workflowId: `webhook-endpoint:${taskQueue}`,
        args: [{ endpointId: 'we_1' }],
      });
      await suite.env.sleep(2 * DAY + 2 * HOUR);
      await handle.terminate('test over');
    });
    expect(endpoint.delivered).toEqual(['d1', 'd2', 'd3']);
    expect(endpoint.state.failed).toEqual([]);
    const d1 = endpoint.attempts.filter((a) => a.deliveryId === 'd1');
    // 1, 2, 4 ... 32 minutes, then hourly, until the receiver answers after 2 days.
    // A retry's scheduled time is when the attempt before it failed (the server then waits out the
    // backoff), so the gaps between retries' scheduled times are the waits between attempts.
    const retries = d1.slice(1);
    const gaps = retries.slice(1).map((a, i) => a.at - retries[i]!.at);
    gaps.forEach((gap, i) => expect(Math.abs(gap - webhookRetryDelayMs(i + 1))).toBeLessThan(5_000));
    expect(gaps.slice(0, 7).map((g) => Math.round(g / 60_000))).toEqual([1, 2, 4, 8, 16, 32, 60]);
    expect(d1.at(-1)!.at - d1[0]!.at).toBeGreaterThanOrEqual(2 * DAY);
    expect(d1.length).toBe(d1.at(-1)!.attempt);
    // The later deliveries waited their turn and went through at the first try.
    expect(endpoint.attempts.filter((a) => a.deliveryId !== 'd1').map((a) => a.attempt)).toEqual([1, 1]);
  });

  it('answers to the type, id and signal the relay wakes it by, named in the domain', async () => {
    const endpoint = fakeEndpoint(['d1'], () => 200);
    await suite.withWorker(endpoint.activities, async (taskQueue) => {
      // As the relay's sink wakes an endpoint: by names, with no workflow code at hand.
      const handle = await suite.env.client.workflow.signalWithStart(WEBHOOK_ENDPOINT_WORKFLOW, {
        taskQueue,
        workflowId: webhookEndpointWorkflowId(taskQueue),
        args: [{ endpointId: 'we_4' }],
        signal: DELIVERIES_SIGNAL,
        signalArgs: [],
      });
      // d1 sent, then a read that finds nothing: the endpoint is idle and only a signal moves it.
      await vi.waitFor(() => expect(endpoint.state.reads).toBe(2), WAIT);
      endpoint.pending.push('d2');
      await handle.signal(DELIVERIES_SIGNAL);
      await vi.waitFor(() => expect(endpoint.delivered).toEqual(['d1', 'd2']), WAIT);
      // Idle again; deleted now, the next wake-up ends the workflow.
      await vi.waitFor(() => expect(endpoint.state.reads).toBe(4), WAIT);
      endpoint.state.status = 'disabled';
      await handle.signal(DELIVERIES_SIGNAL);
      await handle.result();
    });
    expect(endpoint.state.reads).toBe(5);
  });

  it('a delivery not accepted within 3 days is marked failed and the next one goes', async () => {
    const endpoint = fakeEndpoint(['d1', 'd2'], (since) => (since < 3 * DAY + HOUR ? 500 : 200));
    await suite.withWorker(endpoint.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(webhookEndpointWorkflow, {
        taskQueue,
        workflowId: `webhook-endpoint:${taskQueue}`,
        args: [{ endpointId: 'we_2' }],
      });
      await suite.env.sleep(3 * DAY + 3 * HOUR);
      // The activities run in real time: on a busy machine the last of them may still be under
      // way when the clock has been moved on. Later hours change nothing once both are settled.
      // Until then, each look moves the clock on by another hour.
      await vi.waitFor(async () => {
        if (endpoint.delivered.length === 0) await suite.env.sleep(HOUR);
        expect(endpoint.state.failed).toEqual(['d1']);
        expect(endpoint.delivered).toEqual(['d2']);
      }, WAIT);
      await handle.terminate('test over');
    });
    expect(endpoint.state.failed).toEqual(['d1']);
    expect(endpoint.delivered).toEqual(['d2']);
  });

  it('a 410 disables the endpoint and ends its workflow', async () => {
    const endpoint = fakeEndpoint(['d1', 'd2'], () => 410);
    await suite.withWorker(endpoint.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(webhookEndpointWorkflow, {
        taskQueue,
        workflowId: `webhook-endpoint:${taskQueue}`,
        args: [{ endpointId: 'we_3' }],
      });
      await handle.result();
      await recordHistory(handle, 'webhookendpoint');
    });
    expect(endpoint.state.status).toBe('disabled');
    expect(endpoint.attempts).toHaveLength(1);
    expect(endpoint.delivered).toEqual([]);
  });
});
