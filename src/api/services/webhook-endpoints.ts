import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Executor } from '../../db/client.js';
import {
  deliveryContext,
  findEndpoint,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  updateEndpoint,
  type AttemptRow,
  type DeliveryRow,
  type EndpointRow,
} from '../../db/webhooks.js';
import { TASK_QUEUE } from '../../workflows/contract.js';
import { webhookManualRetry, webhookRetryWorkflowId } from '../../workflows/webhook-endpoint.js';
import { newWebhookSecret, type SecretBox } from '../../webhooks/secrets.js';
import { temporalCalls, type TemporalCall } from '../dependencies.js';
import { ProblemError } from '../problem.js';

/** A manual retry waits this long for its one attempt (10 s of HTTP at most, and the queue). */
const MANUAL_RETRY_DEADLINE_MS = 30_000;

export interface WebhookEndpointView {
  id: string;
  url: string;
  events: string[] | null;
  description: string | null;
  status: EndpointRow['status'];
  disabledReason: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  secret?: string;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function view(row: EndpointRow, secret?: string): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    status: row.status,
    disabledReason: row.disabledReason,
    previousSecretExpiresAt: iso(row.previousSecretExpiresAt),
    createdAt: row.createdAt.toISOString(),
    ...(secret ? { secret } : {}),
  };
}

function deliveryView(row: DeliveryRow & { attemptList: AttemptRow[] }) {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: row.attemptList.map((a) => ({
      attempt: a.attempt,
      trigger: a.trigger,
      statusCode: a.statusCode,
      error: a.error,
      latencyMs: a.latencyMs,
      nextRetryAt: iso(a.nextRetryAt),
      at: a.createdAt.toISOString(),
    })),
    nextAttemptAt: iso(row.nextAttemptAt),
    deliveredAt: iso(row.deliveredAt),
    createdAt: row.createdAt.toISOString(),
  };
}

/** A merchant's webhook endpoints; their deliveries are sent by the endpoint workflows. */
export class WebhookEndpointService {
  constructor(
    private readonly db: Executor,
    private readonly box: SecretBox,
    private readonly temporal: Client,
    /** A Temporal call with a deadline, through the API's circuit breaker. */
    private readonly temporalCall: TemporalCall = temporalCalls(temporal),
  ) {}

  async create(
    tenantId: string,
    body: { url: string; events?: string[] | undefined; description?: string | undefined },
  ): Promise<WebhookEndpointView> {
    const secret = newWebhookSecret();
    const all = !body.events || body.events.includes('*');
    const row = await insertEndpoint(this.db, {
      id: `we_${randomBytes(12).toString('hex')}`,
      tenantId,
      url: body.url,
      events: all ? null : [...new Set(body.events)],
      description: body.description ?? null,
      secretCiphertext: this.box.seal(secret),
      status: 'enabled',
    });
    return view(row, secret);
  }

  async list(tenantId: string): Promise<WebhookEndpointView[]> {
    return (await listEndpoints(this.db, tenantId)).map((row) => view(row));
  }

  async get(tenantId: string, id: string): Promise<WebhookEndpointView> {
    return view(await this.endpoint(tenantId, id));
  }

  /** Stops deliveries at once; those still pending are never sent. */
  async delete(tenantId: string, id: string): Promise<WebhookEndpointView> {
    await this.endpoint(tenantId, id);
    return view((await updateEndpoint(this.db, id, { status: 'deleted' }))!);
  }

  /** A new secret; the current one keeps signing beside it for `overlapSeconds`. */
  async rotateSecret(tenantId: string, id: string, overlapSeconds: number): Promise<WebhookEndpointView> {
    const endpoint = await this.endpoint(tenantId, id);
    const secret = newWebhookSecret();
    const row = await updateEndpoint(this.db, id, {
      secretCiphertext: this.box.seal(secret),
      previousSecretCiphertext: overlapSeconds > 0 ? endpoint.secretCiphertext : null,
      previousSecretExpiresAt: overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null,
    });
    return view(row!, secret);
  }

  async deliveries(tenantId: string, id: string) {
    await this.endpoint(tenantId, id);
    return (await listDeliveries(this.db, id, 100)).map(deliveryView);
  }

  /**
   * Sends a delivery again now (one attempt, recorded as `manual`), whatever its status. The
   * attempt is made by a worker (a short workflow per delivery; two retries at once share it),
   * never from the API process, and the answer is the delivery as it then stands.
   */
  async retry(tenantId: string, id: string, deliveryId: string) {
    await this.endpoint(tenantId, id);
    const context = await deliveryContext(this.db, deliveryId);
    if (!context || context.delivery.endpointId !== id)
      throw new ProblemError(404, 'delivery_not_found', `no delivery ${deliveryId} for endpoint ${id}`);
    await this.temporalCall(Date.now() + MANUAL_RETRY_DEADLINE_MS, () =>
      this.temporal.workflow.execute(webhookManualRetry, {
        workflowId: webhookRetryWorkflowId(deliveryId),
        taskQueue: TASK_QUEUE,
        args: [{ deliveryId }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      }),
    );
    const [updated] = await listDeliveries(this.db, id, 1, deliveryId);
    return deliveryView(updated!);
  }

  private async endpoint(tenantId: string, id: string): Promise<EndpointRow> {
    const row = await findEndpoint(this.db, tenantId, id);
    if (!row) throw new ProblemError(404, 'webhook_endpoint_not_found', `no webhook endpoint ${id}`);
    return row;
  }
}
