import {
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
  type Message,
} from '@platformatic/kafka';
import { ensureKafkaTopic } from '../events/kafka-sink.js';
import { settleCommand, untilStopped, type ProcessDeps } from './process.js';

export const KAFKA_COMMANDS_TOPIC = 'paysaga.commands';
export const KAFKA_COMMANDS_DLQ_TOPIC = 'paysaga.commands.dlq';
export const KAFKA_COMMANDS_GROUP = 'paysaga-commands';
/** Commands settled at once (each is a workflow start: mostly waiting on Temporal). */
const WINDOW = 16;

/**
 * Reads `paysaga.commands` in the consumer group `paysaga-commands`, up to 16 messages at once,
 * and commits a message's offset only once its workflow has been started or it has been
 * dead-lettered to `paysaga.commands.dlq` (with the reason and where it came from in headers).
 * A consumer that stops or crashes before that leaves the offset where it was: the message is
 * read again, and starting the same workflow again is harmless.
 */
export function runKafkaCommands(brokers: string[], deps: ProcessDeps): Promise<void> {
  return untilStopped('Kafka commands', () => session(brokers, deps), deps);
}

async function session(brokers: string[], deps: ProcessDeps): Promise<void> {
  await ensureKafkaTopic(brokers, KAFKA_COMMANDS_TOPIC);
  await ensureKafkaTopic(brokers, KAFKA_COMMANDS_DLQ_TOPIC);
  const consumer = new Consumer({
    groupId: KAFKA_COMMANDS_GROUP,
    clientId: 'paysaga-commands',
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
  });
  const deadLetters = new Producer({
    clientId: 'paysaga-commands-dlq',
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
  });
  const stream = await consumer.consume({
    topics: [KAFKA_COMMANDS_TOPIC],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
  });
  const stop = () => void stream.close().catch(() => undefined);
  deps.signal.addEventListener('abort', stop, { once: true });
  deps.log(`reading Kafka topic ${KAFKA_COMMANDS_TOPIC} at ${brokers.join(',')}`);
  // Up to WINDOW messages are settled at once; a partition's offset is committed only up to the
  // last message before which every one is settled, so a crash never skips an unsettled one.
  const inFlight = new Set<Promise<void>>();
  const commits = new CommitTracker<Message<string, string, string, string>>();
  try {
    for await (const message of stream) {
      const settle = commits.add(message.partition, message);
      const task = (async () => {
        const settled = await settleCommand(
          message.value ?? '',
          message.headers.get('type'),
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
        await settle()?.commit();
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
 * Which offset may be committed: per partition, messages in the order they were read; settling
 * one returns the last message of the settled run at the head (commit it), or nothing while an
 * earlier message is still being settled.
 */
export class CommitTracker<M> {
  readonly #queues = new Map<number, { message: M; settled: boolean }[]>();

  add(partition: number, message: M): () => M | undefined {
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
