import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { ensureKafkaTopic } from '../events/kafka-sink.js';
import { settleCommand, untilStopped, type ProcessDeps } from './process.js';

export const KAFKA_COMMANDS_TOPIC = 'paysaga.commands';
export const KAFKA_COMMANDS_DLQ_TOPIC = 'paysaga.commands.dlq';
export const KAFKA_COMMANDS_GROUP = 'paysaga-commands';

/**
 * Reads `paysaga.commands` in the consumer group `paysaga-commands`, one message at a time, and
 * commits a message's offset only once its workflow has been started or it has been
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
  try {
    for await (const message of stream) {
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
      if (settled === 'stopped') break;
      await message.commit();
    }
  } finally {
    deps.signal.removeEventListener('abort', stop);
    await stream.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
    await deadLetters.close().catch(() => undefined);
  }
}
