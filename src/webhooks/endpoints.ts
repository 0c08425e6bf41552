import { randomBytes } from 'node:crypto';
import { AppError } from '../app/errors.js';
import type { TemporalGateway } from '../app/temporal.js';
import { withTimeout } from '../app/with-timeout.js';
import type { Executor } from '../db/client.js';
import {
  deliveryContext,
  findDeliveryWithAttempts,
  findEndpoint,
  insertEndpointWithinCap,
  listDeliveries,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
  type DeliveryPage,
  type DeliveryWithAttempts,
  type EndpointRow,
} from './store.js';
import { MAX_ENDPOINTS_PER_TENANT, webhookRetryWorkflowId } from './domain.js';
import type { DeliveryDeps } from './deliver.js';
import { newWebhookSecret } from './secrets.js';
import { TASK_QUEUE } from '../workflows/contract.js';
import { webhookManualRetry } from './workflow.js';

/** How long registering an endpoint waits for its host name to resolve. */
const URL_CHECK_TIMEOUT_MS = 5_000;

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

function deliveryView(row: DeliveryWithAttempts) {
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

/** What the service uses: the egress only checks a URL at registration (workers send). */
export interface WebhookEndpointDeps extends DeliveryDeps {
  /** The process's one way to Temporal (breaker, deadlines), for manual retries. */
  temporal: TemporalGateway;
}

/** A merchant's webhook endpoints; their deliveries are sent by the endpoint workflows. */
export class WebhookEndpointService {
  private readonly db: Executor;

  constructor(private readonly deps: WebhookEndpointDeps) {
    this.db = deps.db;
  }

  /** Refused when the URL's host is not on the public internet, or the tenant has all its endpoints. */
  async create(
    tenantId: string,
    body: { url: string; events?: string[] | undefined; description?: string | undefined },
  ): Promise<WebhookEndpointView> {
    // A name whose DNS does not answer in time is refused like one that does not resolve.
    if ((await withTimeout(this.deps.egress.reaches(body.url), URL_CHECK_TIMEOUT_MS)) !== true)
      throw new AppError(
        'invalid',
        'url_not_allowed',
        'webhooks go to the public internet only: the URL must name a public address, or a host name that resolves to public addresses only',
      );
    const secret = newWebhookSecret();
    const all = !body.events || body.events.includes('*');
    const row = await insertEndpointWithinCap(this.db, MAX_ENDPOINTS_PER_TENANT, {
      id: `we_${randomBytes(12).toString('hex')}`,
      tenantId,
      url: body.url,
      events: all ? null : [...new Set(body.events)],
      description: body.description ?? null,
      secretCiphertext: this.deps.box.seal(secret),
      status: 'enabled',
    });
    if (!row)
      throw new AppError(
        'conflict',
        'webhook_endpoint_limit_reached',
        `a tenant has at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints: delete one to add another`,
      );
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
    const secret = newWebhookSecret();
    const row = await rotateEndpointSecret(this.db, {
      tenantId,
      id,
      secretCiphertext: this.deps.box.seal(secret),
      previousExpiresAt: overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null,
    });
    if (!row) throw notFound(id);
    return view(row, secret);
  }

  /** A page of the endpoint's deliveries; the cursor is the last one's sequence number. */
  async deliveries(
    tenantId: string,
    id: string,
    query: Omit<DeliveryPage, 'afterSeq'> & { cursor?: string | undefined },
  ): Promise<{ data: ReturnType<typeof deliveryView>[]; nextCursor: string | null }> {
    await this.endpoint(tenantId, id);
    const { cursor, ...page } = query;
    const rows = await listDeliveries(this.db, id, {
      ...page,
      afterSeq: cursor === undefined ? undefined : Number(cursor),
    });
    const last = rows.length === page.limit ? rows[rows.length - 1] : undefined;
    return { data: rows.map(deliveryView), nextCursor: last ? String(last.seq) : null };
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
      throw new AppError('not_found', 'delivery_not_found', `no delivery ${deliveryId} for endpoint ${id}`);
    await this.deps.temporal.run(Date.now() + MANUAL_RETRY_DEADLINE_MS, (client) =>
      client.workflow.execute(webhookManualRetry, {
        workflowId: webhookRetryWorkflowId(deliveryId),
        taskQueue: TASK_QUEUE,
        args: [{ deliveryId }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      }),
    );
    return deliveryView((await findDeliveryWithAttempts(this.db, deliveryId))!);
  }

  private async endpoint(tenantId: string, id: string): Promise<EndpointRow> {
    const row = await findEndpoint(this.db, tenantId, id);
    if (!row) throw notFound(id);
    return row;
  }
}

function notFound(id: string): AppError {
  return new AppError('not_found', 'webhook_endpoint_not_found', `no webhook endpoint ${id}`);
}
