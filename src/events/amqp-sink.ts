import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { CloudEvent } from '../domain/events.js';
import { fitLength } from '../hash.js';
import { withOrderReplies } from '../domain/order-replies.js';
import { CLOUDEVENTS_JSON, type EventSink } from './sink.js';

export const AMQP_EVENTS_EXCHANGE = 'paysaga.events';
/** The longest AMQP short string (message-id, type): 255 bytes. */
const AMQP_SHORT_STRING = 255;
/** A broker that accepts the connection and then says nothing must not hold the relay forever. */
const CONNECT_TIMEOUT_MS = 5_000;
const CONFIRM_TIMEOUT_MS = 10_000;

/**
 * Events to the RabbitMQ topic exchange `paysaga.events`, routing key = event type (bind
 * `payment.#` for payments), persistent, with publisher confirms: `publish` resolves once the
 * broker has every message. One channel publishes in order, so a queue receives the events of a
 * payment in order. A lost connection is opened again on the next publish.
 */
export class AmqpSink implements EventSink {
  readonly name = 'amqp';
  readonly #url: string;
  #open: Promise<{ connection: ChannelModel; channel: ConfirmChannel }> | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  /** The events and the food-ordering replies they call for, in order. */
  async publish(events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { channel } = await this.#connect();
    try {
      for (const event of withOrderReplies(events)) {
        channel.publish(AMQP_EVENTS_EXCHANGE, event.type, Buffer.from(JSON.stringify(event)), {
          persistent: true,
          contentType: CLOUDEVENTS_JSON,
          // AMQP's message-id is a short string (255 at most); the body keeps the whole event id.
          messageId: fitLength(event.id, AMQP_SHORT_STRING),
          type: event.type,
          timestamp: Math.floor(Date.parse(event.time) / 1000),
          appId: 'paysaga',
          headers: { subject: event.subject, tenantid: event.tenantid },
        });
      }
      await withTimeout(channel.waitForConfirms(), CONFIRM_TIMEOUT_MS, 'RabbitMQ did not confirm the events');
    } catch (error) {
      await this.#reset();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#reset();
  }

  #connect(): Promise<{ connection: ChannelModel; channel: ConfirmChannel }> {
    this.#open ??= (async () => {
      const connection = await withTimeout(
        amqp.connect(this.#url, { timeout: CONNECT_TIMEOUT_MS }),
        CONNECT_TIMEOUT_MS,
        'RabbitMQ did not answer the connection',
      );
      // Without a listener an 'error' would crash the process; the next publish reconnects.
      connection.on('error', () => undefined);
      connection.on('close', () => {
        this.#open = undefined;
      });
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      await channel.assertExchange(AMQP_EVENTS_EXCHANGE, 'topic', { durable: true });
      return { connection, channel };
    })().catch((error: unknown) => {
      this.#open = undefined;
      throw error;
    });
    return this.#open;
  }

  async #reset(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (!open) return;
    // A hung broker may never answer the close either.
    await withTimeout(
      open.then(({ connection }) => connection.close()),
      1_000,
      'close timed out',
    ).catch(() => undefined);
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
