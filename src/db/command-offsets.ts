import { and, eq, sql } from './orm.js';
import type { Executor } from './client.js';
import { commandOffsets } from './schema.js';

/** The next offset to read of each partition of `topic` this consumer group has settled, by partition. */
export async function loadCommandOffsets(
  db: Executor,
  group: string,
  topic: string,
): Promise<Map<number, number>> {
  const rows = await db
    .select({ partition: commandOffsets.partition, nextOffset: commandOffsets.nextOffset })
    .from(commandOffsets)
    .where(and(eq(commandOffsets.consumerGroup, group), eq(commandOffsets.topic, topic)));
  return new Map(rows.map((row) => [row.partition, row.nextOffset]));
}

/** Records that everything before `nextOffset` is settled; never moves a partition backwards. */
export async function saveCommandOffset(
  db: Executor,
  group: string,
  topic: string,
  partition: number,
  nextOffset: number,
): Promise<void> {
  await db
    .insert(commandOffsets)
    .values({ consumerGroup: group, topic, partition, nextOffset })
    .onConflictDoUpdate({
      target: [commandOffsets.consumerGroup, commandOffsets.topic, commandOffsets.partition],
      set: {
        nextOffset: sql`GREATEST(${commandOffsets.nextOffset}, excluded.next_offset)`,
        updatedAt: sql`now()`,
      },
    });
}
