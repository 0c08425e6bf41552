/**
 * Integration profiles' outbound side: Paysaga's events as the messages each system expects, on
 * its own topics and exchanges. Each profile is a sink of the event relay with its own cursor, so
 * a profile's broker being down holds only that profile. An event a binding cannot map is parked
 * (PostgreSQL, `profile_failures`) and tried again on its own with backoff, while the events
 * behind it go on: one bad mapping never stalls a profile, nor any other sink.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import {
  clearProfileFailure,
  dueProfileFailures,
  parkProfileFailure,
  paymentNumbersOf,
  walletAvailable,
} from '../db/profiles.js';
import type { CloudEvent } from '../domain/events.js';
import { MappingError } from '../profiles/mapping.js';
import {
  needs,
  render,
  takes,
  type Enrichment,
  type Outbound,
  type OutboundMessage,
  type Profile,
} from '../profiles/profile.js';
import { withTimeout } from './amqp-sink.js';
import { kafkaClientOptions, type KafkaConnection } from './kafka-connection.js';
import { bySize, ensureKafkaTopic, KAFKA_REQUEST_BYTES } from './kafka-sink.js';
import type { EventSink } from './sink.js';

/** The sink (and relay cursor) name of a tenant's profile. */
export const profileSinkName = (profile: Pick<Profile, 'name' | 'tenantId'>) =>
  `profile:${profile.tenantId}:${profile.name}`;

/** Parked events tried again per sweep. */
const SWEEP_BATCH = 100;

/** A binding that publishes to a broker (stream bindings are the API's, per connected client). */
const published = (outbound: Outbound) => !('stream' in outbound.binding.target);

/** What a binding's mapping may need beside the event, looked up here (mappings do no I/O). */
export async function enrichmentFor(
  db: Executor,
  outbound: Outbound,
  event: CloudEvent,
): Promise<Enrichment> {
  const wanted = needs(outbound);
  const data = (event.data ?? {}) as { id?: unknown; customerId?: unknown; currency?: unknown };
  const enrichment: Enrichment = {};
  if (wanted.paymentNumber && event.subject.startsWith('payments/') && typeof data.id === 'string')
    enrichment.paymentNumber = (await paymentNumbersOf(db, [data.id])).get(data.id);
  if (wanted.walletBalance && typeof data.customerId === 'string' && typeof data.currency === 'string')
    enrichment.walletBalance = await walletAvailable(db, event.tenantid, data.customerId, data.currency);
  return enrichment;
}

/** The messages a profile's broker bindings make of an event (MappingError: a binding could not). */
export async function messagesFor(
  db: Executor,
  profile: Profile,
  event: CloudEvent,
  onFailure: (outbound: Outbound, error: MappingError) => Promise<void>,
): Promise<OutboundMessage[]> {
  const messages: OutboundMessage[] = [];
  for (const outbound of profile.outbound.filter(published)) {
    try {
      if (!(await takes(outbound, event))) continue;
      messages.push(await render(outbound, event, await enrichmentFor(db, outbound, event)));
    } catch (error) {
      if (!(error instanceof MappingError)) throw error;
      await onFailure(outbound, error);
    }
  }
  return messages;
}

export class ProfileSink implements EventSink {
  readonly name: string;

  constructor(
    private readonly profile: Profile,
    private readonly db: Executor,
    private readonly publisher: ProfilePublisher,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.name = profileSinkName(profile);
  }

  async publish(events: readonly CloudEvent[], tx?: Executor): Promise<void> {
    const db = tx ?? this.db;
    const messages: OutboundMessage[] = [];
    for (const event of events) {
      if (event.tenantid !== this.profile.tenantId) continue;
      // Looked up outside the relay's transaction: a payment's number, once given, stays given
      // even when this batch is rolled back and sent again.
      messages.push(
        ...(await messagesFor(this.db, this.profile, event, async (outbound, error) => {
          this.log(
            `${this.name}: parked ${event.type} ${event.id} for ${outbound.binding.name}: ${error.message}`,
          );
          await parkProfileFailure(db, {
            sink: this.name,
            eventId: event.id,
            binding: outbound.binding.name,
            reason: error.message,
          });
        })),
      );
    }
    await this.publisher.publish(messages);
  }

  /** Tries the parked events that are due again, each on its own. */
  async sweep(): Promise<void> {
    for (const { failure, event } of await dueProfileFailures(this.db, this.name, SWEEP_BATCH)) {
      const outbound = this.profile.outbound.find((each) => each.binding.name === failure.binding);
      try {
        if (!event || !outbound || !(await takes(outbound, event))) {
          // The event left the outbox, or the profile changed since: there is nothing to send.
          await clearProfileFailure(this.db, failure);
          this.log(
            `${this.name}: dropped parked ${failure.eventId} for ${failure.binding}: ` +
              (!event
                ? 'the event is gone'
                : !outbound
                  ? 'the binding is gone'
                  : 'the binding no longer takes it'),
          );
          continue;
        }
        await this.publisher.publish([
          await render(outbound, event, await enrichmentFor(this.db, outbound, event)),
        ]);
        await clearProfileFailure(this.db, failure);
        this.log(
          `${this.name}: ${failure.eventId} for ${failure.binding} went out after ${failure.attempts} failures`,
        );
      } catch (error) {
        await parkProfileFailure(this.db, { ...failure, reason: (error as Error).message });
      }
    }
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }
}

/**
 * Publishes profiles' messages to their topics and exchanges, in order, and resolves once the
 * brokers have them (Kafka: idempotent producer, acks from all in-sync replicas; RabbitMQ:
 * persistent messages and publisher confirms). Topics and exchanges are created when first used.
 */
export class ProfilePublisher {
  readonly #kafka: KafkaConnection | undefined;
  readonly #amqpUrl: string | undefined;
  #producer: Producer<string, string, string, string> | undefined;
  readonly #topics = new Map<string, Promise<void>>();
  #amqp: Promise<{ connection: ChannelModel; channel: ConfirmChannel }> | undefined;
  readonly #exchanges = new Set<string>();

  constructor(settings: { kafka?: KafkaConnection | undefined; amqpUrl?: string | undefined }) {
    this.#kafka = settings.kafka;
    this.#amqpUrl = settings.amqpUrl;
  }

  /** The publisher for a process's profiles; throws when one publishes to a broker not configured. */
  static forProfiles(
    profiles: readonly Profile[],
    config: Pick<Config, 'kafkaBrokers' | 'kafkaSecurity' | 'amqpUrl' | 'commands'>,
  ): ProfilePublisher {
    for (const { profile, binding } of profiles.flatMap((each) => each.outbound))
      if ('kafka' in binding.target && config.commands.tenantSources.has(binding.target.kafka.topic))
        throw new Error(
          `profile ${profile.name} outbound ${binding.name}: ${binding.target.kafka.topic} is a tenant's command source (TENANT_COMMAND_SOURCES)`,
        );
    const settings = {
      kafka: config.kafkaBrokers?.length
        ? { brokers: config.kafkaBrokers, security: config.kafkaSecurity }
        : undefined,
      amqpUrl: config.amqpUrl,
    };
    for (const profile of profiles) {
      const missing = ProfilePublisher.missingBroker(profile, settings);
      if (missing) throw new Error(missing);
    }
    return new ProfilePublisher(settings);
  }

  /** Whether each broker a profile publishes to is configured; the reason when one is not. */
  static missingBroker(
    profile: Profile,
    settings: { kafka?: KafkaConnection | undefined; amqpUrl?: string | undefined },
  ): string | undefined {
    for (const { binding } of profile.outbound) {
      if ('kafka' in binding.target && !settings.kafka?.brokers.length)
        return `profile ${profile.name} publishes ${binding.name} to Kafka, but KAFKA_BROKERS is unset`;
      if ('amqp' in binding.target && !settings.amqpUrl)
        return `profile ${profile.name} publishes ${binding.name} to RabbitMQ, but AMQP_URL is unset`;
    }
    return undefined;
  }

  /**
   * Creates the topics and exchanges the profiles publish to, so a system's consumers can
   * subscribe before the first message (each is created on first use too).
   */
  async declare(profiles: readonly Profile[]): Promise<void> {
    const targets = profiles.flatMap((profile) =>
      profile.outbound.map((outbound) => outbound.binding.target),
    );
    for (const target of targets)
      if ('kafka' in target && this.#kafka) await this.#ensureTopic(this.#kafka, target.kafka.topic);
    const exchanges = targets.flatMap((target) => ('amqp' in target ? [target.amqp] : []));
    if (exchanges.length === 0 || !this.#amqpUrl) return;
    const { channel } = await this.#connectAmqp(this.#amqpUrl);
    for (const { exchange, exchangeType } of exchanges) {
      await channel.assertExchange(exchange, exchangeType, { durable: true });
      this.#exchanges.add(exchange);
    }
  }

  async publish(messages: readonly OutboundMessage[]): Promise<void> {
    const kafka = messages.filter((message) => 'kafka' in message.target);
    const rabbit = messages.filter((message) => 'amqp' in message.target);
    if (kafka.length > 0) await this.#publishKafka(kafka);
    if (rabbit.length > 0) await this.#publishAmqp(rabbit);
  }

  async close(): Promise<void> {
    await this.#producer?.close().catch(() => undefined);
    const open = this.#amqp;
    this.#amqp = undefined;
    if (open)
      await withTimeout(
        open.then(({ connection }) => connection.close()),
        1_000,
        'close timed out',
      ).catch(() => undefined);
  }

  async #publishKafka(messages: readonly OutboundMessage[]): Promise<void> {
    const connection = this.#kafka;
    if (!connection) throw new Error('a profile publishes to Kafka, but KAFKA_BROKERS is unset');
    this.#producer ??= new Producer({
      clientId: 'paysaga-profiles',
      ...kafkaClientOptions(connection),
      serializers: stringSerializers,
      idempotent: true,
      timeout: 10_000,
      retries: 3,
    });
    const records = messages.map((message) => {
      const topic = 'kafka' in message.target ? message.target.kafka.topic : '';
      return {
        topic,
        ...(message.key !== undefined ? { key: message.key } : {}),
        value: message.body,
        headers: { 'content-type': 'application/json' },
      };
    });
    for (const topic of new Set(records.map((record) => record.topic)))
      await this.#ensureTopic(connection, topic);
    for (const chunk of bySize(records, KAFKA_REQUEST_BYTES)) await this.#producer.send({ messages: chunk });
  }

  #ensureTopic(connection: KafkaConnection, topic: string): Promise<void> {
    let ready = this.#topics.get(topic);
    if (!ready) {
      ready = ensureKafkaTopic(connection, topic).catch((error: unknown) => {
        this.#topics.delete(topic);
        throw error;
      });
      this.#topics.set(topic, ready);
    }
    return ready;
  }

  async #publishAmqp(messages: readonly OutboundMessage[]): Promise<void> {
    const url = this.#amqpUrl;
    if (!url) throw new Error('a profile publishes to RabbitMQ, but AMQP_URL is unset');
    const { channel } = await this.#connectAmqp(url);
    try {
      for (const message of messages) {
        if (!('amqp' in message.target)) continue;
        const { exchange, exchangeType, routingKey } = message.target.amqp;
        if (!this.#exchanges.has(exchange)) {
          await channel.assertExchange(exchange, exchangeType, { durable: true });
          this.#exchanges.add(exchange);
        }
        channel.publish(exchange, routingKey, Buffer.from(message.body), {
          persistent: true,
          contentType: 'application/json',
          appId: 'paysaga',
        });
      }
      await withTimeout(channel.waitForConfirms(), 10_000, 'RabbitMQ did not confirm the messages');
    } catch (error) {
      const open = this.#amqp;
      this.#amqp = undefined;
      this.#exchanges.clear();
      await open?.then(({ connection }) => connection.close()).catch(() => undefined);
      throw error;
    }
  }

  #connectAmqp(url: string): Promise<{ connection: ChannelModel; channel: ConfirmChannel }> {
    this.#amqp ??= (async () => {
      const connection = await withTimeout(
        amqp.connect(url, { timeout: 5_000 }),
        5_000,
        'RabbitMQ did not answer',
      );
      connection.on('error', () => undefined);
      connection.on('close', () => {
        this.#amqp = undefined;
        this.#exchanges.clear();
      });
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      return { connection, channel };
    })().catch((error: unknown) => {
      this.#amqp = undefined;
      throw error;
    });
    return this.#amqp;
  }
}
