import type { DatabaseHandle } from '../../src/db/client.js';

/** The relay's sinks, each with a cursor of its own in `event_relay_cursors`. */
export type RelaySink = 'webhooks' | 'kafka' | 'amqp';
const SINKS: readonly RelaySink[] = ['webhooks', 'kafka', 'amqp'];

/**
 * The outbox rows of these subjects, in the order they were written, and which sinks' cursors
 * passed them. A cursor past an event is the relay's word that the sink has it (for webhooks: its
 * deliveries are written, in the same transaction), so a test waits on it before asserting that
 * something did not happen, instead of sleeping.
 */
export async function relayed(db: DatabaseHandle, subjects: readonly string[]) {
  const passed = (sink: RelaySink) =>
    `coalesce((SELECT (e.txid, e.seq) <= (c.txid, c.seq) FROM event_relay_cursors c WHERE c.sink = '${sink}'), false) AS ${sink}`;
  const { rows } = await db.pool.query(
    `SELECT id, type, subject, seq, ${SINKS.map(passed).join(', ')}
       FROM events e WHERE subject = ANY($1) ORDER BY seq`,
    [subjects],
  );
  return rows as Array<{ id: string; type: string; subject: string } & Record<RelaySink, boolean>>;
}

/** Whether `sink`'s cursor has passed every event of these subjects (and there is at least one). */
export async function relayPassed(db: DatabaseHandle, sink: RelaySink, subjects: readonly string[]) {
  const rows = await relayed(db, subjects);
  return rows.length > 0 && rows.every((row) => row[sink]);
}
