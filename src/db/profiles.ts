/** What integration profiles keep in PostgreSQL (migrations/0019_integration_profiles.sql). */
import type { CloudEvent } from '../domain/events.js';
import type { Executor } from './client.js';
import { and, asc, desc, eq, inArray, lte, sql } from './orm.js';
import { toCloudEvent } from './outbox.js';
import { events, paymentNumbers, profileFailures, profileMessages } from './schema.js';

export interface ProfileMessageKey {
  tenantId: string;
  profile: string;
  binding: string;
  idempotencyKey: string;
}

/** The resource a message with this key started, if one was seen before. */
export async function findProfileMessage(db: Executor, key: ProfileMessageKey): Promise<string | undefined> {
  const [row] = await db
    .select({ resourceId: profileMessages.resourceId })
    .from(profileMessages)
    .where(
      and(
        eq(profileMessages.tenantId, key.tenantId),
        eq(profileMessages.profile, key.profile),
        eq(profileMessages.binding, key.binding),
        eq(profileMessages.idempotencyKey, key.idempotencyKey),
      ),
    );
  return row?.resourceId;
}

/** Records that a message started `resourceId` (the first record stands). */
export async function recordProfileMessage(
  db: Executor,
  key: ProfileMessageKey,
  resourceId: string,
): Promise<void> {
  await db
    .insert(profileMessages)
    .values({ ...key, resourceId })
    .onConflictDoNothing();
}

/** Each payment's stable number, given on first use. */
export async function paymentNumbersOf(
  db: Executor,
  paymentIds: readonly string[],
): Promise<Map<string, number>> {
  if (paymentIds.length === 0) return new Map();
  const unique = [...new Set(paymentIds)];
  await db
    .insert(paymentNumbers)
    .values(unique.map((paymentId) => ({ paymentId })))
    .onConflictDoNothing();
  const rows = await db
    .select({ paymentId: paymentNumbers.paymentId, number: paymentNumbers.number })
    .from(paymentNumbers)
    .where(inArray(paymentNumbers.paymentId, unique));
  return new Map(rows.map((row) => [row.paymentId, row.number]));
}

/** A wallet's available balance in one currency (0 for a wallet that has none yet). */
export async function walletAvailable(
  db: Executor,
  tenantId: string,
  customerId: string,
  currency: string,
): Promise<number> {
  const result = await db.execute(sql`
    SELECT credits_posted - debits_posted - debits_pending AS available
    FROM ledger_accounts
    WHERE tenant_id = ${tenantId} AND kind = 'wallet' AND customer_id = ${customerId} AND currency = ${currency}`);
  const row = result.rows[0] as { available: string | number } | undefined;
  return row ? Number(row.available) : 0;
}

/** The latest event of a subject among `types`: a payment's result, to publish again. */
export async function latestEventOf(
  db: Executor,
  tenantId: string,
  subject: string,
  types: readonly string[],
): Promise<CloudEvent | undefined> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.subject, subject), inArray(events.type, [...types])))
    .orderBy(desc(events.seq))
    .limit(1);
  return row && toCloudEvent(row);
}

export interface ProfileFailure {
  sink: string;
  eventId: string;
  binding: string;
  reason: string;
  attempts: number;
}

/**
 * Parks an event a binding could not map or publish, to be tried again in 5 s, then twice as long
 * after each failure, up to 10 minutes; a failure already parked counts one more attempt.
 */
export async function parkProfileFailure(
  db: Executor,
  failure: Omit<ProfileFailure, 'attempts'>,
): Promise<void> {
  await db
    .insert(profileFailures)
    .values({ ...failure, nextAttemptAt: sql`now() + interval '5 seconds'` })
    .onConflictDoUpdate({
      target: [profileFailures.sink, profileFailures.eventId, profileFailures.binding],
      set: {
        reason: failure.reason,
        attempts: sql`${profileFailures.attempts} + 1`,
        nextAttemptAt: sql`now() + least(5 * power(2, ${profileFailures.attempts}), 600) * interval '1 second'`,
      },
    });
}

/** A sink's parked failures due for another try, with their events, oldest first. */
export async function dueProfileFailures(
  db: Executor,
  sink: string,
  limit: number,
): Promise<{ failure: ProfileFailure; event: CloudEvent | undefined }[]> {
  const rows = await db
    .select({ failure: profileFailures, event: events })
    .from(profileFailures)
    .leftJoin(events, eq(events.id, profileFailures.eventId))
    .where(and(eq(profileFailures.sink, sink), lte(profileFailures.nextAttemptAt, sql`now()`)))
    .orderBy(asc(profileFailures.createdAt))
    .limit(limit);
  return rows.map((row) => ({
    failure: {
      sink: row.failure.sink,
      eventId: row.failure.eventId,
      binding: row.failure.binding,
      reason: row.failure.reason,
      attempts: row.failure.attempts,
    },
    event: row.event ? toCloudEvent(row.event) : undefined,
  }));
}

export async function clearProfileFailure(
  db: Executor,
  failure: Pick<ProfileFailure, 'sink' | 'eventId' | 'binding'>,
): Promise<void> {
  await db
    .delete(profileFailures)
    .where(
      and(
        eq(profileFailures.sink, failure.sink),
        eq(profileFailures.eventId, failure.eventId),
        eq(profileFailures.binding, failure.binding),
      ),
    );
}

/** How many events each sink has parked (for the metrics). */
export async function countProfileFailures(db: Executor): Promise<Map<string, number>> {
  const rows = await db
    .select({ sink: profileFailures.sink, count: sql<number>`count(*)::int` })
    .from(profileFailures)
    .groupBy(profileFailures.sink);
  return new Map(rows.map((row) => [row.sink, row.count]));
}
