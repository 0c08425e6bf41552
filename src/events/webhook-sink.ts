import type { Client } from '@temporalio/client';
import type { Executor } from '../db/client.js';
import { createDeliveries } from '../db/webhooks.js';
import type { CloudEvent } from '../domain/events.js';
import {
  deliveriesSignal,
  webhookEndpointWorkflow,
  webhookEndpointWorkflowId,
} from '../workflows/webhook-endpoint.js';
import type { EventSink } from './sink.js';

/**
 * Merchants' webhook endpoints as a sink: each event becomes a delivery for every enabled
 * endpoint of its tenant that wants its type, and the endpoint's workflow is told (started if
 * it does not run). Always on, first among the sinks, so a broker outage does not hold webhooks.
 */
export class WebhookSink implements EventSink {
  readonly name = 'webhooks';

  constructor(
    private readonly db: Executor,
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async publish(list: readonly CloudEvent[]): Promise<void> {
    const endpoints = await createDeliveries(this.db, list);
    await Promise.all(
      endpoints.map((endpointId) =>
        this.temporal.workflow.signalWithStart(webhookEndpointWorkflow, {
          workflowId: webhookEndpointWorkflowId(endpointId),
          taskQueue: this.taskQueue,
          args: [{ endpointId }],
          signal: deliveriesSignal,
          signalArgs: [],
        }),
      ),
    );
  }

  async close(): Promise<void> {}
}
