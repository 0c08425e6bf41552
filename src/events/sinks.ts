/** Builds the broker sinks `EVENT_SINKS` names (the relay publishes to them in order). */
import type { KafkaSecurity } from '../config.js';
import { brokerSinks, type SinkName } from '../domain/sinks.js';
import type { EventSink } from './sink.js';

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
