/**
 * The outbox side of the `events` table: what has not been published yet, oldest first, and
 * marking it published. Payments write their events in the same transaction as their state
 * (src/db/payments.ts); this module only reads them out.
 */
import { and, asc, desc, eq, gt, sql } from './orm.js';
import { EVENT_SOURCE, type CloudEvent } from '../domain/events.js';
import type { Executor } from './client.js';
import { events } from './schema.js';
import type { SinkLag } from '../domain/sinks.js';

/** One relay per sink at a time (the second key is the sink's hash). */
const RELAY_LOCK = 7_041_986;

export interface RelayedBatch {
  count: number;
  /** The highest `seq` published, when any was. */
  lastSeq: number | undefined;
  /** What the sink asked to run once the batch is committed (see `EventSink.publish`). */
  published?: (() => Promise<void>) | undefined;
}

/** Sinks whose cursor row this process has made sure of (a cursor is never removed). */
const cursorsMade = new Set<string>();

/** Backlogs are counted up to this many events: past it the figure says "at least". */
export const LAG_COUNT_CAP = 100_000;

/**
 * Takes the next `limit` events for `sink` after its cursor, hands them to `publish` and moves
 * the cursor past them, in one transaction: if `publish` throws, nothing moves and the next batch
 * starts with the same events (consumers drop what they saw by event id). Each sink has its own
 * cursor and lock, so a sink that is down holds only itself.
 *
 * Events are read in (txid, seq) order and only from transactions older than every transaction
 * still running, so an event committed late with a lower `seq` is never passed over. A sink with
 * no cursor yet starts at the first event in a new deployment and at the newest one when other
 * sinks already relay (a sink added later receives events from then on).
 */
/** A new sink's cursor: at the head of the outbox, or at its start when no sink has relayed yet. */
async function insertCursor(tx: Executor, sink: string): Promise<void> {
  await tx.execute(sql`
    INSERT INTO event_relay_cursors (sink, txid, seq)
    SELECT ${sink}, coalesce(head.txid, '0'::xid8), coalesce(head.seq, 0)
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
        SELECT e.txid, e.seq FROM events e
         WHERE EXISTS (SELECT 1 FROM event_relay_cursors)
           AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY e.txid DESC, e.seq DESC LIMIT 1
      ) AS head ON true
    ON CONFLICT (sink) DO NOTHING`);
}

/**
 * Gives each sink named a cursor now, if it has none (a sink added: events from now on). Called
 * at start by the processes whose work a new sink must see (an integration profile's results),
 * before that work begins, rather than at the sink's first relay, which may come later.
 */
export async function ensureRelayCursors(db: Executor, sinks: readonly string[]): Promise<void> {
  const missing = sinks.filter((sink) => !cursorsMade.has(sink));
  if (missing.length === 0) return;
  await db.transaction(async (tx) => {
    // The first cursors of an outbox start at its beginning, all of them alike.
    const { rows } = await tx.execute<{ any: boolean }>(
      sql`SELECT EXISTS (SELECT 1 FROM event_relay_cursors) AS any`,
    );
    for (const sink of missing) {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${RELAY_LOCK}, hashtext(${sink}))`);
      if (rows[0]?.any) await insertCursor(tx, sink);
      else
        await tx.execute(sql`
          INSERT INTO event_relay_cursors (sink, txid, seq) VALUES (${sink}, '0'::xid8, 0)
          ON CONFLICT (sink) DO NOTHING`);
    }
  });
  for (const sink of missing) cursorsMade.add(sink);
}

export async function relaySinkBatch(
  db: Executor,
  sink: string,
  limit: number,
  publish: (list: CloudEvent[], tx: Executor) => Promise<(() => Promise<void>) | void>,
): Promise<RelayedBatch> {
  const batch = await db.transaction(async (tx): Promise<RelayedBatch> => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${RELAY_LOCK}, hashtext(${sink}))`);
    if (!cursorsMade.has(sink)) await insertCursor(tx, sink);
    const { rows } = await tx.execute<RelayRow>(sql`
      SELECT e.id, e.tenant_id, e.type, e.source, e.subject, e.time, e.data, e.seq, e.txid
        FROM events e, event_relay_cursors c
       WHERE c.sink = ${sink}
         AND (e.txid, e.seq) > (c.txid, c.seq)
         AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY e.txid, e.seq
       LIMIT ${limit}`);
    if (rows.length === 0) return { count: 0, lastSeq: undefined };
    const published = await publish(rows.map(relayRowToCloudEvent), tx);
    const last = rows.at(-1)!;
    await tx.execute(sql`
      UPDATE event_relay_cursors SET txid = ${last.txid}::xid8, seq = ${last.seq}, updated_at = now()
       WHERE sink = ${sink}`);
    return { count: rows.length, lastSeq: Number(last.seq), published: published ?? undefined };
  });
  // Committed: the cursor exists from now on.
  cursorsMade.add(sink);
  return batch;
}

interface RelayRow extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  type: string;
  source: string;
  subject: string;
  time: Date | string;
  data: unknown;
  seq: number | string;
  txid: string;
}

function relayRowToCloudEvent(row: RelayRow): CloudEvent {
  return toCloudEvent({
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    source: row.source,
    subject: row.subject,
    time: row.time instanceof Date ? row.time : new Date(row.time),
    data: row.data,
    seq: Number(row.seq),
    txid: row.txid,
  });
}

/** Each sink's backlog and lag (the sinks named, whether or not they have relayed yet). */
export async function relayLag(db: Executor, sinks: readonly string[]): Promise<SinkLag[]> {
  if (sinks.length === 0) return [];
  const { rows } = await db.execute<{
    sink: string;
    backlog: number | string;
    oldest: Date | string | null;
  }>(sql`
    SELECT s.sink,
           (SELECT count(*) FROM (
              SELECT 1 FROM events e
               WHERE c.sink IS NULL OR (e.txid, e.seq) > (c.txid, c.seq)
               LIMIT ${LAG_COUNT_CAP}) AS waiting) AS backlog,
           (SELECT e.time FROM events e
             WHERE c.sink IS NULL OR (e.txid, e.seq) > (c.txid, c.seq)
             ORDER BY e.txid, e.seq LIMIT 1) AS oldest
      FROM unnest(string_to_array(${sinks.join(',')}, ',')) AS s(sink)
      LEFT JOIN event_relay_cursors c ON c.sink = s.sink`);
  const now = Date.now();
  return rows.map((row) => ({
    sink: row.sink,
    backlog: Number(row.backlog),
    lagSeconds: row.oldest ? Math.max(0, (now - new Date(row.oldest).getTime()) / 1000) : 0,
  }));
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
