/**
 * The port events leave Paysaga through. The outbox (the `events` table) is always the record;
 * a sink is a broker the event relay copies it to, in order. `EVENT_SINKS` names them.
 */
import type { Executor } from '../db/client.js';
import type { KafkaSecurity } from '../config.js';
import type { CloudEvent } from '../domain/events.js';

export interface EventSink {
  readonly name: string;
  /**
   * Publishes the events in the order given and resolves once the broker has them durably
   * (Kafka: acks from all in-sync replicas; RabbitMQ: publisher confirms). Throws when it could
   * not: the relay then publishes the same events again, with the same ids. `tx` is the relay's
   * transaction, which moves this sink's cursor: a sink that writes to PostgreSQL writes there,
   * and may return what to do once it has committed.
   */
  publish(events: readonly CloudEvent[], tx?: Executor): Promise<(() => Promise<void>) | void>;
  /** Called about once a minute by the relay: repairs what a crash between commit and follow-up left. */
  sweep?(): Promise<void>;
  close(): Promise<void>;
}

export const SINK_NAMES = ['outbox', 'kafka', 'amqp'] as const;
export type SinkName = (typeof SINK_NAMES)[number];

/** `outbox,kafka` → the names, validated; the outbox is implied even when not listed. */
export function parseEventSinks(value: string): SinkName[] {
  const names = value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!(SINK_NAMES as readonly string[]).includes(name))
      throw new Error(`EVENT_SINKS: unknown sink "${name}" (known: ${SINK_NAMES.join(', ')})`);
  }
  return [...new Set<SinkName>(['outbox', ...(names as SinkName[])])];
}

/** The sinks that are brokers (everything but the outbox itself). */
export function brokerSinks(names: readonly SinkName[]): Exclude<SinkName, 'outbox'>[] {
  return names.filter((name): name is Exclude<SinkName, 'outbox'> => name !== 'outbox');
}

/** The content type of an event in structured mode (the whole envelope is the message body). */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

export interface SinkSettings {
  names: readonly SinkName[];
  kafkaBrokers: string[] | undefined;
  kafkaSecurity?: KafkaSecurity | undefined;
  amqpUrl: string | undefined;
}

/** The broker sinks named, connected lazily (the first publish connects). */
export async function createEventSinks(settings: SinkSettings): Promise<EventSink[]> {
  const sinks: EventSink[] = [];
  for (const name of brokerSinks(settings.names)) {
    if (name === 'kafka') {
      if (!settings.kafkaBrokers?.length)
        throw new Error('EVENT_SINKS names kafka but KAFKA_BROKERS is unset');
      const { KafkaSink } = await import('./kafka-sink.js');
      sinks.push(new KafkaSink({ brokers: settings.kafkaBrokers, security: settings.kafkaSecurity }));
    } else {
      if (!settings.amqpUrl) throw new Error('EVENT_SINKS names amqp but AMQP_URL is unset');
      const { AmqpSink } = await import('./amqp-sink.js');
      sinks.push(new AmqpSink(settings.amqpUrl));
    }
  }
  return sinks;
}
