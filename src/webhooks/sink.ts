import type { Client } from '@temporalio/client';
import type { Executor } from '../db/client.js';
import { createDeliveries, endpointsToSweep, markEndpointsAwake, markEndpointsIdle } from './store.js';
import type { CloudEvent } from '../domain/events.js';
import {
  DELIVERIES_SIGNAL,
  WEBHOOK_ENDPOINT_WORKFLOW,
  webhookEndpointWorkflowId,
  type WebhookEndpointInput,
} from './domain.js';
import type { EventSink } from '../events/sink.js';

/**
 * Merchants' webhook endpoints as a sink: each event becomes a delivery for every enabled
 * endpoint of its tenant that wants its type, written in the relay's transaction (so a batch is
 * fanned out exactly once), and once that has committed, each of those endpoints whose workflow
 * is idle is woken with one signal (started if it does not run). A busy workflow is not
 * signalled: it reads its pending deliveries from PostgreSQL when it is done with the one in hand,
 * so the signals one run receives do not grow with the events, however long a delivery retries.
 */
export class WebhookSink implements EventSink {
  readonly name = 'webhooks';

  constructor(
    private readonly db: Executor,
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async publish(list: readonly CloudEvent[], tx: Executor = this.db): Promise<(() => Promise<void>) | void> {
    const endpoints = await createDeliveries(tx, list);
    if (endpoints.length > 0) return () => this.wake(endpoints);
  }

  /** Endpoints with deliveries waiting and an idle workflow (a wake-up lost to a crash): woken. */
  async sweep(): Promise<void> {
    await this.wake(await endpointsToSweep(this.db));
  }

  async close(): Promise<void> {}

  /** Signals the idle ones among these endpoints; a failed signal leaves its endpoint idle, for the sweep. */
  private async wake(endpointIds: readonly string[]): Promise<void> {
    const idle = await markEndpointsAwake(this.db, endpointIds);
    const results = await Promise.allSettled(
      idle.map((endpointId) =>
        this.temporal.workflow.signalWithStart(WEBHOOK_ENDPOINT_WORKFLOW, {
          workflowId: webhookEndpointWorkflowId(endpointId),
          taskQueue: this.taskQueue,
          args: [{ endpointId } satisfies WebhookEndpointInput],
          signal: DELIVERIES_SIGNAL,
          signalArgs: [],
        }),
      ),
    );
    const failed = idle.filter((_, i) => results[i]!.status === 'rejected');
    if (failed.length === 0) return;
    await markEndpointsIdle(this.db, failed);
    throw (results.find((result) => result.status === 'rejected') as PromiseRejectedResult).reason;
  }
}
