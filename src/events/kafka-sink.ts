import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import type { CloudEvent } from '../domain/events.js';
import { withOrderReplies } from '../domain/order-replies.js';
import { kafkaClientOptions, type KafkaConnection } from './kafka-connection.js';
import { CLOUDEVENTS_JSON, type EventSink } from './sink.js';

export const KAFKA_EVENTS_TOPIC = 'paysaga.events';
const PARTITIONS = 3;
/**
 * The most bytes of message values one produce request carries: a broker refuses a record batch
 * over its `message.max.bytes` (1 MB by default), so a relay batch is sent in requests under it.
 */
export const KAFKA_REQUEST_BYTES = 512 * 1024;

/**
 * Events to the Kafka topic `paysaga.events`, key = subject (the payment or wallet id), so all
 * events of one payment land on one partition, in order. The producer is idempotent (acks from
 * all in-sync replicas, one request in flight), so its own retries never duplicate or reorder;
 * a relay that publishes a batch again after a failure may duplicate, with the same event ids.
 */
export class KafkaSink implements EventSink {
  readonly name = 'kafka';
  readonly #connection: KafkaConnection;
  readonly #producer: Producer<string, string, string, string>;
  #topicReady: Promise<void> | undefined;

  constructor(connection: KafkaConnection, clientId = 'paysaga') {
    this.#connection = connection;
    this.#producer = new Producer({
      clientId,
      ...kafkaClientOptions(connection),
      serializers: stringSerializers,
      idempotent: true,
      timeout: 10_000,
      retries: 3,
    });
  }

  /** The events and the food-ordering replies they call for, in order, in requests under the size limit. */
  async publish(events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#ensureTopic();
    const messages = withOrderReplies(events).map((event) => ({
      topic: KAFKA_EVENTS_TOPIC,
      key: event.subject,
      value: JSON.stringify(event),
      headers: { 'content-type': CLOUDEVENTS_JSON, ce_id: event.id, ce_type: event.type },
    }));
    for (const chunk of bySize(messages, KAFKA_REQUEST_BYTES)) await this.#producer.send({ messages: chunk });
  }

  async close(): Promise<void> {
    await this.#producer.close();
  }

  /** Creates the topic with its partitions once (an existing one is left as it is). */
  #ensureTopic(): Promise<void> {
    this.#topicReady ??= ensureKafkaTopic(this.#connection, KAFKA_EVENTS_TOPIC).catch((error: unknown) => {
      this.#topicReady = undefined;
      throw error;
    });
    return this.#topicReady;
  }
}

export async function ensureKafkaTopic(connection: KafkaConnection, topic: string): Promise<void> {
  const admin = new Admin({ clientId: 'paysaga-admin', ...kafkaClientOptions(connection), timeout: 10_000 });
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin
        .createTopics({ topics: [topic], partitions: PARTITIONS, replicas: -1 })
        .catch((error: unknown) => {
          // Another process created it first.
          if (!/already exists/i.test(String((error as Error).message) + JSON.stringify(error))) throw error;
        });
    }
  } finally {
    await admin.close();
  }
}

/** Consecutive runs of `messages` whose values add up to at most `limit` bytes (one at least each). */
export function bySize<T extends { value: string }>(messages: readonly T[], limit: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.value);
    if (current.length > 0 && bytes + size > limit) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
