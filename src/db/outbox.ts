/**
 * The outbox side of the `events` table: what has not been published yet, oldest first, and
 * marking it published. Payments write their events in the same transaction as their state
 * (src/db/payments.ts); this module only reads them out.
 */
import { and, asc, desc, eq, gt, inArray, isNull, sql } from './orm.js';
import { EVENT_SOURCE, type CloudEvent } from '../domain/events.js';
import type { Executor } from './client.js';
import { events } from './schema.js';

/** One relay at a time: batches are published strictly one after another, in `seq` order. */
const RELAY_LOCK = 7_041_986;

export interface RelayedBatch {
  count: number;
  /** The highest `seq` published, when any was. */
  lastSeq: number | undefined;
}

/**
 * Takes up to `limit` unpublished events in `seq` order, hands them to `publish`, and marks them
 * published in the same transaction. If `publish` throws the transaction is rolled back, nothing
 * is marked, and the next batch starts with the same events (consumers drop what they saw by
 * event id). A transaction-scoped advisory lock serializes relays, so a second one (a retried
 * activity whose first attempt still runs) waits rather than publishing out of order. The events
 * are marked and read in one statement.
 */
export async function relayBatch(
  db: Executor,
  limit: number,
  publish: (list: CloudEvent[]) => Promise<void>,
): Promise<RelayedBatch> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${RELAY_LOCK})`);
    const oldest = tx
      .select({ seq: events.seq })
      .from(events)
      .where(isNull(events.publishedAt))
      .orderBy(asc(events.seq))
      .limit(limit);
    const marked = await tx
      .update(events)
      .set({ publishedAt: new Date() })
      .where(inArray(events.seq, oldest))
      .returning();
    if (marked.length === 0) return { count: 0, lastSeq: undefined };
    // RETURNING has no order of its own.
    marked.sort((a, b) => a.seq - b.seq);
    await publish(marked.map(toCloudEvent));
    return { count: marked.length, lastSeq: marked.at(-1)!.seq };
  });
}

export function toCloudEvent(row: typeof events.$inferSelect): CloudEvent {
  return {
    specversion: '1.0',
    id: row.id,
    source: row.source || EVENT_SOURCE,
    type: row.type,
    subject: row.subject,
    time: row.time.toISOString(),
    datacontenttype: 'application/json',
    tenantid: row.tenantId,
    data: row.data,
  };
}

/** A subject's events after `afterSeq`, oldest first: what a live stream has not sent yet. */
export async function eventsAfter(
  db: Executor,
  tenantId: string,
  subject: string,
  afterSeq: number,
  limit = 100,
): Promise<(typeof events.$inferSelect)[]> {
  return db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.subject, subject), gt(events.seq, afterSeq)))
    .orderBy(asc(events.seq))
    .limit(limit);
}

/** The `seq` of a subject's latest event, or 0. */
export async function latestSeq(db: Executor, tenantId: string, subject: string): Promise<number> {
  const [row] = await db
    .select({ seq: events.seq })
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.subject, subject)))
    .orderBy(desc(events.seq))
    .limit(1);
  return row?.seq ?? 0;
}

export async function eventBySeq(db: Executor, seq: number): Promise<typeof events.$inferSelect | undefined> {
  const [row] = await db.select().from(events).where(eq(events.seq, seq));
  return row;
}
