import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { FAILURE_DESCRIPTIONS, timelineOf } from '../../src/app/timeline.js';

const at = (seconds: number) => ({ seconds });
const HOST = '4242@worker-7.internal';
const RAW = 'connect ECONNREFUSED 10.0.3.7:5432';

/** A history whose steps carry what only operators may read: hosts and raw error messages. */
const { events } = temporal.api.history.v1.History.fromObject({
  events: [
    {
      eventId: '1',
      eventTime: at(1),
      workflowExecutionStartedEventAttributes: { workflowType: { name: 'paymentWorkflow' }, identity: HOST },
    },
    {
      eventId: '2',
      eventTime: at(2),
      activityTaskScheduledEventAttributes: { activityType: { name: 'recordPayment' } },
    },
    {
      eventId: '3',
      eventTime: at(3),
      activityTaskStartedEventAttributes: {
        scheduledEventId: '2',
        attempt: 2,
        identity: HOST,
        lastFailure: {
          message: 'activity failed',
          cause: { message: RAW, applicationFailureInfo: { type: 'Error' } },
        },
      },
    },
    {
      eventId: '4',
      eventTime: at(4),
      activityTaskFailedEventAttributes: {
        scheduledEventId: '2',
        identity: HOST,
        failure: {
          message: 'activity failed',
          cause: {
            message: `${RAW} (PersistenceRejected)`,
            applicationFailureInfo: { type: 'PersistenceRejected' },
          },
        },
      },
    },
    {
      eventId: '5',
      eventTime: at(5),
      workflowExecutionSignaledEventAttributes: { signalName: 'gatewayWebhook', identity: HOST },
    },
    {
      eventId: '6',
      eventTime: at(6),
      workflowExecutionUpdateAcceptedEventAttributes: {
        acceptedRequest: { meta: { updateId: 'u1', identity: HOST }, input: { name: 'capture' } },
      },
    },
    {
      eventId: '7',
      eventTime: at(7),
      workflowExecutionUpdateCompletedEventAttributes: {
        meta: { updateId: 'u1' },
        outcome: { failure: { message: RAW, timeoutFailureInfo: {} } },
      },
    },
    {
      eventId: '8',
      eventTime: at(8),
      workflowExecutionFailedEventAttributes: { failure: { message: RAW, applicationFailureInfo: {} } },
    },
  ],
});

describe('a timeline as tenants read it', () => {
  const steps = timelineOf(events ?? []);

  it('names no worker or client identity, and no raw failure text', () => {
    const text = JSON.stringify(steps);
    expect(text).not.toContain('worker-7');
    expect(text).not.toContain('ECONNREFUSED');
    expect(text).not.toContain('10.0.3.7');
    expect(steps.every((step) => !('identity' in step))).toBe(true);
  });

  it("says each failure's kind in generic words, with its type", () => {
    expect(steps.find((s) => s.name === 'recordPayment')).toMatchObject({
      outcome: 'failed',
      failure: FAILURE_DESCRIPTIONS.error,
      failureType: 'PersistenceRejected',
      attempts: 2,
    });
    expect(steps.find((s) => s.name === 'capture')).toMatchObject({
      outcome: 'failed',
      failure: FAILURE_DESCRIPTIONS.timeout,
    });
    expect(steps.at(-1)).toMatchObject({
      step: 'end',
      outcome: 'failed',
      failure: FAILURE_DESCRIPTIONS.error,
    });
    expect(steps.find((s) => s.kind === 'signal')).toMatchObject({
      name: 'gatewayWebhook',
      outcome: 'received',
    });
  });
});

describe("a timeline's step names", () => {
  const scheduled = (eventId: string, name: string) => ({
    eventId,
    eventTime: at(Number(eventId)),
    activityTaskScheduledEventAttributes: { activityType: { name } },
  });
  const steps = timelineOf(
    temporal.api.history.v1.History.fromObject({
      events: [
        scheduled('1', 'claimPayment'),
        scheduled('2', 'creditWallet'),
        scheduled('3', 'voidCard'),
        scheduled('4', 'anActivityOfAnOlderWorker'),
      ],
    }).events ?? [],
  );

  it("names every activity the worker has (the table is keyed by its type), and keeps an unknown one's own name", () => {
    expect(steps.map(({ name, step, compensation }) => ({ name, step, compensation }))).toEqual([
      { name: 'claimPayment', step: 'claim order', compensation: undefined },
      { name: 'creditWallet', step: 'credit wallet', compensation: undefined },
      { name: 'voidCard', step: 'void card authorization', compensation: true },
      { name: 'anActivityOfAnOlderWorker', step: 'anActivityOfAnOlderWorker', compensation: undefined },
    ]);
  });
});
