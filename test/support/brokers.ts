import { Consumer, stringDeserializers, type MessagesStream } from '@platformatic/kafka';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { CloudEvent } from '../../src/domain/events.js';
import { AMQP_EVENTS_EXCHANGE } from '../../src/events/amqp-sink.js';
import { ensureKafkaTopic, KAFKA_EVENTS_TOPIC } from '../../src/events/kafka-sink.js';

/** One message as a consumer saw it: the envelope, and how the broker routed it. */
export interface Received {
  event: CloudEvent;
  /** Kafka: the message key. RabbitMQ: the routing key. */
  routing: string;
  headers: Record<string, unknown>;
  /** When this process received it (ms since the epoch). */
  receivedAt: number;
  /** RabbitMQ: 2 for a persistent message. */
  deliveryMode?: number | undefined;
  messageId?: string | undefined;
  contentType?: string | undefined;
}

export interface Collector {
  readonly received: Received[];
  close(): Promise<void>;
}

/**
 * A durable queue of its own bound to every event on the exchange, as a subscriber would bind
 * one: it keeps what arrives while the broker is stopped and the collector is reconnecting.
 */
export async function collectFromRabbitMq(url: string): Promise<Collector> {
  const queue = `paysaga-test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const received: Received[] = [];
  let closing = false;
  let connection: ChannelModel | undefined;
  const open = async () => {
    const opened = await amqp.connect(url);
    const channel: Channel = await opened.createChannel();
    await channel.assertExchange(AMQP_EVENTS_EXCHANGE, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, AMQP_EVENTS_EXCHANGE, '#');
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        received.push({
          event: JSON.parse(message.content.toString()) as CloudEvent,
          routing: message.fields.routingKey,
          headers: message.properties.headers ?? {},
          receivedAt: Date.now(),
          deliveryMode: message.properties.deliveryMode as number | undefined,
          messageId: message.properties.messageId as string | undefined,
          contentType: message.properties.contentType as string | undefined,
        });
      },
      { noAck: true },
    );
    opened.on('error', () => undefined);
    // The broker went away (a test stopped it): connect again until it is back.
    opened.on('close', () => void reopen());
    connection = opened;
  };
  const reopen = async () => {
    while (!closing) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      try {
        await open();
        return;
      } catch {
        // still down
      }
    }
  };
  await open();
  return {
    received,
    close: async () => {
      closing = true;
      const channel = await connection?.createChannel();
      await channel?.deleteQueue(queue);
      await connection?.close();
    },
  };
}

/** A consumer group of its own reading the topic from the start. */
export async function collectFromKafka(brokers: string): Promise<Collector> {
  await ensureKafkaTopic({ brokers: [brokers] }, KAFKA_EVENTS_TOPIC);
  const consumer = new Consumer({
    groupId: `paysaga-test-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    clientId: 'paysaga-test',
    bootstrapBrokers: [brokers],
    deserializers: stringDeserializers,
  });
  const stream: MessagesStream<string, string, string, string> = await consumer.consume({
    topics: [KAFKA_EVENTS_TOPIC],
    mode: 'earliest',
    autocommit: false,
  });
  const received: Received[] = [];
  stream.on('data', (message) => {
    received.push({
      event: JSON.parse(message.value) as CloudEvent,
      routing: message.key,
      headers: Object.fromEntries(message.headers),
      receivedAt: Date.now(),
    });
  });
  return {
    received,
    close: async () => {
      await stream.close();
      await consumer.close(true);
    },
  };
}

/** The events of these subjects in the order they arrived, each id once (what a consumer keeps). */
export function deduplicated(received: readonly Received[], subjects: readonly string[]): Received[] {
  const seen = new Set<string>();
  return received.filter(({ event }) => {
    if (!subjects.includes(event.subject) || seen.has(event.id)) return false;
    seen.add(event.id);
    return true;
  });
}

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A message as a system's own consumer reads it: where it came from and its body. */
export interface RawMessage {
  /** Kafka: the topic. RabbitMQ: the routing key. */
  destination: string;
  /** Kafka: the record key. */
  key?: string | undefined;
  body: string;
  json: any;
}

/** A consumer group of its own reading these topics from the start (a system's own consumer). */
export async function collectTopics(
  brokers: string,
  topics: string[],
): Promise<{ received: RawMessage[]; close(): Promise<void> }> {
  for (const topic of topics) await ensureKafkaTopic({ brokers: [brokers] }, topic);
  const consumer = new Consumer({
    groupId: `paysaga-test-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    clientId: 'paysaga-test',
    bootstrapBrokers: [brokers],
    deserializers: stringDeserializers,
  });
  const stream: MessagesStream<string, string, string, string> = await consumer.consume({
    topics,
    mode: 'earliest',
    autocommit: false,
  });
  const received: RawMessage[] = [];
  stream.on('data', (message) => {
    received.push({
      destination: message.topic,
      key: message.key,
      body: message.value,
      json: jsonOrUndefined(message.value),
    });
  });
  return {
    received,
    close: async () => {
      await stream.close();
      await consumer.close(true);
    },
  };
}

/** A queue of its own bound to `exchange` with `pattern` (a system's own consumer). */
export async function collectExchange(
  url: string,
  exchange: string,
  pattern: string,
): Promise<{ received: RawMessage[]; close(): Promise<void> }> {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, pattern);
  const received: RawMessage[] = [];
  await channel.consume(
    queue,
    (message) => {
      if (!message) return;
      const body = message.content.toString();
      received.push({ destination: message.fields.routingKey, body, json: jsonOrUndefined(body) });
    },
    { noAck: true },
  );
  return { received, close: () => connection.close() };
}

/** A dead-letter topic holds what was not JSON too. */
function jsonOrUndefined(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
