import {
  Admin,
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
  type Message,
} from '@platformatic/kafka';
import { kafkaClientOptions, type KafkaConnection } from '../events/kafka-connection.js';
import { ensureKafkaTopic } from '../events/kafka-sink.js';
import { settleCommand, untilStopped, type ProcessDeps } from './process.js';
import { COMMAND_SIGNATURE_HEADER } from './trust.js';

export const KAFKA_COMMANDS_TOPIC = 'paysaga.commands';
export const KAFKA_COMMANDS_DLQ_TOPIC = 'paysaga.commands.dlq';
export const KAFKA_COMMANDS_GROUP = 'paysaga-commands';
/** Commands settled at once (each is a workflow start: mostly waiting on Temporal). */
const WINDOW = 16;

/** Where the consumer keeps each partition's settled offset besides Kafka (PostgreSQL). */
export interface OffsetStore {
  load(group: string, topic: string): Promise<Map<number, number>>;
  save(group: string, topic: string, partition: number, nextOffset: number): Promise<void>;
}

export interface KafkaCommandsOptions {
  connection: KafkaConnection;
  /** `paysaga.commands` and the topics bound to one tenant. */
  topics: string[];
  group: string;
  offsets: OffsetStore;
  /** Where a group with no offsets in Kafka nor in the store starts. */
  start: 'earliest' | 'latest';
}

/**
 * Reads the command topics in one consumer group, up to 16 messages at once, and commits a
 * message's offset only once its workflow has been started or it has been dead-lettered to
 * `paysaga.commands.dlq` (with the reason and where it came from in headers). A consumer that
 * stops or crashes before that leaves the offset where it was: the message is read again, and
 * starting the same workflow again is harmless.
 *
 * Each commit is recorded in PostgreSQL first. Kafka forgets a group's offsets once it has had no
 * member for `offsets.retention.minutes` (7 days by default); a consumer that then starts puts
 * them back from PostgreSQL, and says so, instead of reading the topics from their start.
 */
export function runKafkaCommands(options: KafkaCommandsOptions, deps: ProcessDeps): Promise<void> {
  return untilStopped('Kafka commands', () => session(options, deps), deps);
}

async function session(options: KafkaCommandsOptions, deps: ProcessDeps): Promise<void> {
  const { connection, topics, group } = options;
  for (const topic of [...topics, KAFKA_COMMANDS_DLQ_TOPIC]) await ensureKafkaTopic(connection, topic);
  await restoreOffsets(options, deps.log);
  const consumer = new Consumer({
    groupId: group,
    clientId: 'paysaga-commands',
    ...kafkaClientOptions(connection),
    deserializers: stringDeserializers,
  });
  const deadLetters = new Producer({
    clientId: 'paysaga-commands-dlq',
    ...kafkaClientOptions(connection),
    serializers: stringSerializers,
    idempotent: true,
  });
  const stream = await consumer.consume({
    topics,
    mode: 'committed',
    fallbackMode: options.start,
    autocommit: false,
  });
  const stop = () => void stream.close().catch(() => undefined);
  deps.signal.addEventListener('abort', stop, { once: true });
  deps.log(`reading Kafka topics ${topics.join(', ')} at ${connection.brokers.join(',')}`);
  // Up to WINDOW messages are settled at once; a partition's offset is committed only up to the
  // last message before which every one is settled, so a crash never skips an unsettled one.
  const inFlight = new Set<Promise<void>>();
  const commits = new CommitTracker<Message<string, string, string, string>>();
  try {
    for await (const message of stream) {
      const settle = commits.add(`${message.topic}#${message.partition}`, message);
      const task = (async () => {
        const settled = await settleCommand(
          {
            body: message.value ?? '',
            type: message.headers.get('type'),
            signature: message.headers.get(COMMAND_SIGNATURE_HEADER),
            source: message.topic,
            broker: 'kafka',
          },
          async (reason) => {
            await deadLetters.send({
              messages: [
                {
                  topic: KAFKA_COMMANDS_DLQ_TOPIC,
                  key: message.key,
                  value: message.value ?? '',
                  headers: {
                    reason,
                    'source-topic': message.topic,
                    'source-partition': String(message.partition),
                    'source-offset': String(message.offset),
                  },
                },
              ],
            });
          },
          deps,
        );
        if (settled === 'stopped') return;
        const last = settle();
        if (!last) return;
        await options.offsets.save(group, last.topic, last.partition, Number(last.offset) + 1);
        await last.commit();
      })();
      inFlight.add(task);
      void task
        .catch((error: unknown) => deps.log(`command: ${String(error)}`))
        .finally(() => inFlight.delete(task));
      if (inFlight.size >= WINDOW) await Promise.race(inFlight).catch(() => undefined);
      if (deps.signal.aborted) break;
    }
    await Promise.allSettled(inFlight);
  } finally {
    deps.signal.removeEventListener('abort', stop);
    await stream.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
    await deadLetters.close().catch(() => undefined);
  }
}

/**
 * Before the group is joined: a partition PostgreSQL has an offset for and Kafka has none (the
 * group's offsets expired) gets PostgreSQL's back in Kafka, logged; an offset only Kafka has (one
 * committed before PostgreSQL kept them) is copied to PostgreSQL. Kafka accepts the repair only
 * while the group has no member, which is the only time its offsets expire; otherwise this throws
 * and the session is tried again, rather than reading anything twice.
 */
async function restoreOffsets(options: KafkaCommandsOptions, log: (line: string) => void): Promise<void> {
  const { connection, topics, group, offsets } = options;
  const admin = new Admin({
    clientId: 'paysaga-commands-admin',
    ...kafkaClientOptions(connection),
    timeout: 10_000,
  });
  try {
    const [listed] = await admin.listConsumerGroupOffsets({ groups: [group] });
    for (const topic of topics) {
      const inKafka = new Map(
        (listed?.topics.find((t) => t.name === topic)?.partitions ?? [])
          .filter((p) => p.committedOffset >= 0n)
          .map((p) => [p.partitionIndex, Number(p.committedOffset)]),
      );
      const inPostgres = await offsets.load(group, topic);
      const forgotten = [...inPostgres].filter(([partition]) => !inKafka.has(partition));
      if (forgotten.length > 0) {
        log(
          `Kafka has no offsets of group ${group} for ${topic} partitions ${forgotten.map(([p]) => p).join(', ')} ` +
            `(expired after offsets.retention.minutes?): resuming from PostgreSQL's ` +
            forgotten.map(([p, next]) => `${p}@${next}`).join(', '),
        );
        await admin.alterConsumerGroupOffsets({
          groupId: group,
          topics: [
            {
              name: topic,
              partitionOffsets: forgotten.map(([partition, next]) => ({ partition, offset: BigInt(next) })),
            },
          ],
        });
      }
      for (const [partition, next] of inKafka)
        if ((inPostgres.get(partition) ?? -1) < next) await offsets.save(group, topic, partition, next);
      if (inKafka.size === 0 && inPostgres.size === 0)
        log(
          `no offsets of group ${group} for ${topic} in Kafka or PostgreSQL: a new group, reading from the ${options.start}`,
        );
    }
  } finally {
    await admin.close();
  }
}

/**
 * Which offset may be committed: per partition, messages in the order they were read; settling
 * one returns the last message of the settled run at the head (commit it), or nothing while an
 * earlier message is still being settled.
 */
export class CommitTracker<M> {
  readonly #queues = new Map<string | number, { message: M; settled: boolean }[]>();

  add(partition: string | number, message: M): () => M | undefined {
    const queue = this.#queues.get(partition) ?? [];
    this.#queues.set(partition, queue);
    const entry = { message, settled: false };
    queue.push(entry);
    return () => {
      entry.settled = true;
      let last: typeof entry | undefined;
      while (queue[0]?.settled) last = queue.shift();
      return last?.message;
    };
  }
}
