/**
 * The port events leave Paysaga through. The outbox (the `events` table) is always the record;
 * a sink is a broker the event relay copies it to, in order. `EVENT_SINKS` names them.
 */
import type { Executor } from '../db/client.js';
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

/** The content type of an event in structured mode (the whole envelope is the message body). */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';
