import { workflowSinks } from '../../src/tracing.js';
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import type { EventActivities } from '../../src/activities/events.js';
import type { WebhookActivities } from '../../src/webhooks/activities.js';
import type { Activities } from '../../src/activities/index.js';
import { testingExecutable } from '../../tools/stack/temporal-binaries.js';

export interface TimeSkippingSuite {
  env: TestWorkflowEnvironment;
  /** Runs `fn` while a worker with these activities polls a fresh task queue. */
  withWorker<T>(
    activities: Activities | EventActivities | WebhookActivities,
    fn: (taskQueue: string) => Promise<T>,
  ): Promise<T>;
}

/**
 * One time-skipping test server per test file (the workflow bundle is built once per run): durable timers of days
 * pass in milliseconds while the client waits for a result.
 */
export function timeSkippingSuite(): TimeSkippingSuite {
  let workflowBundle: { code: string };
  const suite = {
    env: undefined as unknown as TestWorkflowEnvironment,
    async withWorker<T>(activities: Activities, fn: (taskQueue: string) => Promise<T>): Promise<T> {
      const taskQueue = `test-${randomUUID()}`;
      const worker = await Worker.create({
        connection: suite.env.nativeConnection,
        taskQueue,
        workflowBundle,
        activities,
        // The bundle carries OpenTelemetry's workflow interceptors: their span sink.
        sinks: workflowSinks(),
      });
      return worker.runUntil(fn(taskQueue));
    },
  };
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    suite.env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: testingExecutable(inject('testServerPath')) },
    });
    workflowBundle = { code: inject('workflowBundleCode') };
  });
  afterAll(async () => {
    await suite.env?.teardown();
  });
  return suite;
}
