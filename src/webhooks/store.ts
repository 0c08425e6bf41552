import { createHash } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, lt, sql } from '../db/orm.js';
import type { CloudEvent } from '../domain/events.js';
import { endpointWants } from './domain.js';
import type { Executor } from '../db/client.js';
import { toCloudEvent } from '../db/outbox.js';
import { events, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../db/schema.js';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** Serializes endpoint creations per tenant (with hashtext of the tenant as the second key). */
const ENDPOINT_CREATION_LOCK = 7_041_986;

/**
 * Inserts an endpoint unless its tenant already has `cap` (deleted ones do not count). Two
 * creations at once take turns, so both cannot pass the count. Undefined when the cap is reached.
 */
export async function insertEndpointWithinCap(
  db: Executor,
  cap: number,
  row: typeof webhookEndpoints.$inferInsert,
): Promise<EndpointRow | undefined> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${ENDPOINT_CREATION_LOCK}, hashtext(${row.tenantId}))`);
    const [existing] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.tenantId, row.tenantId), sql`${webhookEndpoints.status} <> 'deleted'`));
    if (existing!.n >= cap) return undefined;
    const [created] = await tx.insert(webhookEndpoints).values(row).returning();
    return created!;
  });
}

export async function listEndpoints(db: Executor, tenantId: string): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), sql`${webhookEndpoints.status} <> 'deleted'`))
    .orderBy(desc(webhookEndpoints.createdAt));
}

export async function findEndpoint(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.id, id),
        eq(webhookEndpoints.tenantId, tenantId),
        sql`${webhookEndpoints.status} <> 'deleted'`,
      ),
    );
  return row;
}

/**
 * Updates an endpoint. Setting a status other than `enabled` (disabled by a 410, deleted) also
 * fails its pending deliveries in the same transaction: nothing will send them any more, and a
 * delivery left `pending` would say otherwise for ever.
 */
export async function updateEndpoint(
  db: Executor,
  id: string,
  set: Partial<typeof webhookEndpoints.$inferInsert>,
): Promise<EndpointRow | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(webhookEndpoints)
      .set({ ...set, updatedAt: new Date() })
      .where(eq(webhookEndpoints.id, id))
      .returning();
    if (row && set.status !== undefined && set.status !== 'enabled')
      await tx
        .update(webhookDeliveries)
        .set({ status: 'failed', lastError: `the endpoint was ${set.status}`, nextAttemptAt: null })
        .where(and(eq(webhookDeliveries.endpointId, id), eq(webhookDeliveries.status, 'pending')));
    return row;
  });
}

/**
 * A new signing secret for a tenant's endpoint (not deleted); with `previousExpiresAt`, the
 * secret it replaces keeps signing until then. The replaced secret is read by this UPDATE itself,
 * so two rotations at once chain (the second keeps the first's secret as its previous one)
 * instead of both replacing the same one and losing the first's.
 */
export async function rotateEndpointSecret(
  db: Executor,
  input: { tenantId: string; id: string; secretCiphertext: string; previousExpiresAt: Date | null },
): Promise<EndpointRow | undefined> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      secretCiphertext: input.secretCiphertext,
      previousSecretCiphertext: input.previousExpiresAt ? sql`${webhookEndpoints.secretCiphertext}` : null,
      previousSecretExpiresAt: input.previousExpiresAt,
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(webhookEndpoints.id, input.id),
        eq(webhookEndpoints.tenantId, input.tenantId),
        sql`${webhookEndpoints.status} <> 'deleted'`,
      ),
    )
    .returning();
  return row;
}

/**
 * Delivery rows per INSERT: six bind parameters each, and PostgreSQL takes at most 65,535 in one
 * statement, so a batch fanned out to many endpoints is written in chunks of this many.
 */
export const DELIVERY_INSERT_CHUNK = 1_000;

/**
 * Fans events out to the enabled endpoints of their tenants that want them: one delivery per
 * (endpoint, event), inserted in the events' order (their `seq` is the delivery order) in chunks
 * of `DELIVERY_INSERT_CHUNK`, a repeat is a no-op. Returns the endpoints these events are for.
 */
export async function createDeliveries(db: Executor, list: readonly CloudEvent[]): Promise<string[]> {
  const tenants = [...new Set(list.map((event) => event.tenantid))];
  if (tenants.length === 0) return [];
  const endpoints = await db
    .select({ id: webhookEndpoints.id, tenantId: webhookEndpoints.tenantId, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(inArray(webhookEndpoints.tenantId, tenants), eq(webhookEndpoints.status, 'enabled')));
  if (endpoints.length === 0) return [];
  const rows: (typeof webhookDeliveries.$inferInsert)[] = [];
  for (const event of list) {
    for (const endpoint of endpoints) {
      if (endpoint.tenantId !== event.tenantid || !endpointWants(endpoint.events, event.type)) continue;
      rows.push({
        id: deliveryId(endpoint.id, event.id),
        endpointId: endpoint.id,
        tenantId: event.tenantid,
        eventId: event.id,
        eventType: event.type,
        status: 'pending',
      });
    }
  }
  if (rows.length === 0) return [];
  for (let start = 0; start < rows.length; start += DELIVERY_INSERT_CHUNK) {
    await db
      .insert(webhookDeliveries)
      .values(rows.slice(start, start + DELIVERY_INSERT_CHUNK))
      .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventId] });
  }
  return [...new Set(rows.map((row) => row.endpointId))];
}

/**
 * Marks these endpoints' workflows awake and returns those that were idle: the ones to signal.
 * Called after the deliveries have committed; with `nextDeliveries` it makes a lost wake-up
 * impossible (a workflow marks itself idle before it looks a last time).
 */
export async function markEndpointsAwake(db: Executor, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .update(webhookEndpoints)
    .set({ awake: true })
    .where(and(inArray(webhookEndpoints.id, [...ids]), eq(webhookEndpoints.awake, false)))
    .returning({ id: webhookEndpoints.id });
  return rows.map((row) => row.id);
}

/** Endpoints whose wake-up signal could not be sent: idle again, so the next batch or sweep wakes them. */
export async function markEndpointsIdle(db: Executor, ids: readonly string[]): Promise<void> {
  await db
    .update(webhookEndpoints)
    .set({ awake: false })
    .where(inArray(webhookEndpoints.id, [...ids]));
}

/** Enabled endpoints with a pending delivery whose workflow is idle (its wake-up was lost). */
export async function endpointsToSweep(db: Executor): Promise<string[]> {
  const rows = await db
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.status, 'enabled'),
        eq(webhookEndpoints.awake, false),
        sql`EXISTS (SELECT 1 FROM ${webhookDeliveries} d
                     WHERE d.endpoint_id = ${webhookEndpoints.id} AND d.status = 'pending')`,
      ),
    );
  return rows.map((row) => row.id);
}

/** Deterministic, so the relay fanning the same event out again finds the same delivery. */
export function deliveryId(endpointId: string, eventId: string): string {
  return `wd_${createHash('sha256').update(`${endpointId}\u0000${eventId}`).digest('hex').slice(0, 24)}`;
}

/**
 * The endpoint's status and its oldest pending deliveries, in order. When there are none, the
 * endpoint is marked idle and looked at once more, so a delivery committed meanwhile is either
 * found now or wakes the workflow (the relay signals only idle endpoints, after its commit).
 */
export async function nextDeliveries(
  db: Executor,
  endpointId: string,
  limit: number,
): Promise<{ status: EndpointRow['status'] | 'missing'; deliveries: string[] }> {
  const first = await pendingDeliveries(db, endpointId, limit);
  if (first.deliveries.length > 0 || first.status !== 'enabled') return first;
  await markEndpointsIdle(db, [endpointId]);
  const second = await pendingDeliveries(db, endpointId, limit);
  if (second.deliveries.length > 0) await markEndpointsAwake(db, [endpointId]);
  return second;
}

/** The endpoint's status and its oldest pending deliveries, in order. */
export async function pendingDeliveries(
  db: Executor,
  endpointId: string,
  limit: number,
): Promise<{ status: EndpointRow['status'] | 'missing'; deliveries: string[] }> {
  const [endpoint] = await db
    .select({ status: webhookEndpoints.status })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.id, endpointId));
  if (!endpoint) return { status: 'missing', deliveries: [] };
  const rows = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'pending')))
    .orderBy(asc(webhookDeliveries.seq))
    .limit(limit);
  return { status: endpoint.status, deliveries: rows.map((row) => row.id) };
}

/** A delivery with its endpoint and event, for an attempt. */
export async function deliveryContext(
  db: Executor,
  id: string,
): Promise<{ delivery: DeliveryRow; endpoint: EndpointRow; event: CloudEvent } | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints, event: events })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, id));
  return row ? { delivery: row.delivery, endpoint: row.endpoint, event: toCloudEvent(row.event) } : undefined;
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  trigger: 'workflow' | 'manual';
  statusCode: number | undefined;
  error: string | undefined;
  latencyMs: number;
  delivered: boolean;
  nextRetryAt: Date | undefined;
}

/** Records an attempt and what it means for the delivery, in one transaction. */
export async function recordAttempt(db: Executor, record: AttemptRecord): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      deliveryId: record.deliveryId,
      attempt: record.attempt,
      trigger: record.trigger,
      statusCode: record.statusCode,
      error: record.error,
      latencyMs: record.latencyMs,
      nextRetryAt: record.nextRetryAt,
    });
    await tx
      .update(webhookDeliveries)
      .set({
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastStatusCode: record.statusCode ?? null,
        lastError: record.error ?? null,
        nextAttemptAt: record.delivered ? null : (record.nextRetryAt ?? null),
        ...(record.delivered ? { status: 'delivered' as const, deliveredAt: new Date() } : {}),
      })
      .where(eq(webhookDeliveries.id, record.deliveryId));
  });
}

export async function failDelivery(db: Executor, id: string, reason: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: 'failed', lastError: reason, nextAttemptAt: null })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')));
}

export type DeliveryWithAttempts = DeliveryRow & { attemptList: AttemptRow[] };

/** A page of an endpoint's deliveries: in `seq` order, newest or oldest first, after a cursor. */
export interface DeliveryPage {
  limit: number;
  order: 'newest' | 'oldest';
  status?: DeliveryRow['status'] | undefined;
  /** The `seq` of the last delivery of the previous page. */
  afterSeq?: number | undefined;
}

/** An endpoint's deliveries, a page at a time, with their attempts. */
export async function listDeliveries(
  db: Executor,
  endpointId: string,
  page: DeliveryPage,
): Promise<DeliveryWithAttempts[]> {
  const newest = page.order === 'newest';
  const deliveries = await db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        page.status === undefined ? undefined : eq(webhookDeliveries.status, page.status),
        page.afterSeq === undefined
          ? undefined
          : newest
            ? lt(webhookDeliveries.seq, page.afterSeq)
            : gt(webhookDeliveries.seq, page.afterSeq),
      ),
    )
    .orderBy(newest ? desc(webhookDeliveries.seq) : asc(webhookDeliveries.seq))
    .limit(page.limit);
  return withAttempts(db, deliveries);
}

/** One delivery with its attempts. */
export async function findDeliveryWithAttempts(
  db: Executor,
  id: string,
): Promise<DeliveryWithAttempts | undefined> {
  const deliveries = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  const [found] = await withAttempts(db, deliveries);
  return found;
}

async function withAttempts(db: Executor, deliveries: DeliveryRow[]): Promise<DeliveryWithAttempts[]> {
  if (deliveries.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(
      inArray(
        webhookAttempts.deliveryId,
        deliveries.map((d) => d.id),
      ),
    )
    .orderBy(asc(webhookAttempts.id));
  return deliveries.map((delivery) => ({
    ...delivery,
    attemptList: attempts.filter((attempt) => attempt.deliveryId === delivery.id),
  }));
}
