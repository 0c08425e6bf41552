/**
 * Events out to a real Kafka and a real RabbitMQ, started by the stack's own launchers: what a
 * subscriber of `paysaga.events` receives, in which order, and what happens when a broker hangs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from '../../src/db/orm.js';
import { toCloudEvent } from '../../src/db/outbox.js';
import { events } from '../../src/db/schema.js';
import { CLOUDEVENTS_JSON } from '../../src/events/sink.js';
import {
  collectFromKafka,
  collectFromRabbitMq,
  deduplicated,
  eventually,
  type Collector,
} from '../support/brokers.js';
import { rabbitmqctl } from '../../tools/stack/rabbitmq.js';
import { testDatabase } from '../support/db.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';
import { relayed, relayPassed } from '../support/relay.js';

const kafkaBrokers = inject('kafkaBrokers');
const amqpUrl = inject('amqpUrl');
const db = testDatabase();

const outbox = (subjects: string[]) => relayed(db, subjects);

const walletPayment = async (customerId: string, amount: number) =>
  (
    await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId,
      amount,
      currency: 'USD',
      method: { type: 'wallet' },
    })
  ).body;

/** Per subject, the ids in arrival order: what "in order per payment" is about. */
function idsBySubject(list: { event: { id: string; subject: string } }[]): Record<string, string[]> {
  const bySubject: Record<string, string[]> = {};
  for (const { event } of list) (bySubject[event.subject] ??= []).push(event.id);
  return bySubject;
}

describe.skipIf(!kafkaBrokers || !amqpUrl)('events to Kafka and RabbitMQ', () => {
  let kafka: Collector;
  let rabbit: Collector;
  const collectors = () =>
    [
      ['kafka', kafka],
      ['rabbitmq', rabbit],
    ] as const;

  beforeAll(async () => {
    [kafka, rabbit] = await Promise.all([collectFromKafka(kafkaBrokers!), collectFromRabbitMq(amqpUrl!)]);
  });
  afterAll(async () => {
    await Promise.all([kafka?.close(), rabbit?.close()]);
    await expectLedgerClean();
    await db.close();
  });

  async function expectDelivered(subjects: string[]) {
    const rows = await outbox(subjects);
    const ids = rows.map((row) => row.id);
    for (const [name, collector] of collectors()) {
      await eventually(
        () => {
          const got = new Set(deduplicated(collector.received, subjects).map((r) => r.event.id));
          return ids.every((id) => got.has(id));
        },
        60_000,
        `${ids.length} events on ${name}`,
      );
      const delivered = deduplicated(collector.received, subjects);
      // Exactly the outbox's events of these subjects, each subject's in the order written.
      expect(delivered.map((r) => r.event.id).sort()).toEqual([...ids].sort());
      expect(idsBySubject(delivered)).toEqual(idsBySubject(rows.map((row) => ({ event: row }))));
    }
    return rows;
  }

  it('a top-up, a wallet payment, a refund and a card decline reach both brokers in order, as CloudEvents', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const paid = await walletPayment(customerId, 2000);
    expect(paid.status).toBe('succeeded');
    const refund = (await api('POST', `/v1/payments/${paid.id}/refunds`, { amount: 500 })).body;
    expect(refund.status).toBe('succeeded');
    const declined = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId: uid('cus'),
        amount: 1500,
        currency: 'USD',
        method: { type: 'card', token: 'tok_test_0000' },
      })
    ).body;
    expect(declined).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined' });

    const subjects = [
      `wallets/${customerId}`,
      `payments/${paid.id}`,
      `refunds/${refund.id}`,
      `payments/${declined.id}`,
    ];
    const rows = await expectDelivered(subjects);
    expect(rows.map((row) => row.type)).toEqual([
      'wallet.updated', // the top-up
      'payment.created',
      'payment.succeeded',
      'refund.succeeded',
      'wallet.updated', // the refund back to the wallet
      'payment.created', // the declined card payment, open for another attempt
      'payment.attempt_failed',
    ]);
    // Each broker's cursor passes what it confirmed.
    await eventually(
      async () => (await outbox(subjects)).every((row) => row.kafka && row.amqp),
      10_000,
      "both sinks' cursors past the events",
    );

    // The envelope is the outbox row as a CloudEvent, byte for byte the same on both brokers.
    const [first] = await db.db.select().from(events).where(eq(events.id, rows[0]!.id));
    const envelope = toCloudEvent(first!);
    expect(envelope).toMatchObject({
      specversion: '1.0',
      source: 'paysaga',
      datacontenttype: 'application/json',
      tenantid: 'default',
    });
    const onKafka = kafka.received.find((r) => r.event.id === envelope.id)!;
    expect(onKafka.event).toEqual(envelope);
    expect(onKafka.routing).toBe(envelope.subject);
    expect(onKafka.headers).toMatchObject({ 'content-type': CLOUDEVENTS_JSON, ce_id: envelope.id });
    const onRabbit = rabbit.received.find((r) => r.event.id === envelope.id)!;
    expect(onRabbit.event).toEqual(envelope);
    expect(onRabbit).toMatchObject({
      routing: envelope.type,
      deliveryMode: 2,
      messageId: envelope.id,
      contentType: CLOUDEVENTS_JSON,
    });
  });

  it('an event id longer than an AMQP message-id (255 bytes) reaches both brokers whole, and holds neither', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 3000);
    const paid = await walletPayment(customerId, 1000);
    // A refund's own Idempotency-Key (up to 255 characters) is part of its events' ids.
    const refund = (
      await api(
        'POST',
        `/v1/payments/${paid.id}/refunds`,
        { amount: 400 },
        { headers: { 'idempotency-key': uid('key').padEnd(255, 'k') } },
      )
    ).body;
    expect(refund.status).toBe('succeeded');
    const rows = await expectDelivered([`refunds/${refund.id}`]);
    expect(rows.some((row) => row.id.length > 255)).toBe(true);
    // And what follows it still goes out.
    const after = await walletPayment(customerId, 500);
    await expectDelivered([`payments/${after.id}`]);
  });

  /** Every message of these subjects that shares an id is the same envelope: duplicates are only retries. */
  function expectDuplicatesOnlyWithTheSameId(subjects: string[]) {
    for (const [, collector] of collectors()) {
      const byId = new Map<string, unknown>();
      for (const { event } of collector.received.filter((r) => subjects.includes(r.event.subject))) {
        if (byId.has(event.id)) expect(event).toEqual(byId.get(event.id));
        else byId.set(event.id, event);
      }
    }
  }

  it('Kafka hanging delays its events and loses none, and holds nothing else: RabbitMQ gets them meanwhile', async () => {
    const pid = inject('brokerPids').kafka;
    expect(pid, 'the stack started Kafka itself').toBeTypeOf('number');
    const customerId = uid('cus');
    await topUp(customerId, 9000);
    await expectDelivered([`wallets/${customerId}`]);

    process.kill(pid!, 'SIGSTOP');
    let subjects: string[];
    try {
      const started = Date.now();
      const payments = [];
      for (let i = 0; i < 3; i++) payments.push(await walletPayment(customerId, 1000));
      // The caller's answer never waits for a broker.
      expect(payments.map((p) => p.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(Date.now() - started).toBeLessThan(5_000);
      subjects = [`wallets/${customerId}`, ...payments.map((p) => `payments/${p.id}`)];
      // RabbitMQ's sink has its own cursor: it delivers every event while Kafka hangs…
      const ids = (await outbox(subjects)).map((row) => row.id);
      await eventually(
        () => ids.every((id) => rabbit.received.some((r) => r.event.id === id)),
        30_000,
        'the events on RabbitMQ while Kafka hangs',
      );
      // …while Kafka's cursor cannot pass what Kafka has not acknowledged.
      const waiting = (await outbox(subjects)).filter((row) => !row.kafka);
      expect(waiting.length).toBeGreaterThanOrEqual(6);
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
    // Once it answers again, every event arrives, each payment's in order, on both brokers.
    await expectDelivered(subjects);
    expectDuplicatesOnlyWithTheSameId(subjects);
  });

  it('RabbitMQ stopped for 30 s while payments run, then started: every event arrives, none lost, and Kafka is not held', async () => {
    const control = inject('rabbitmqControl');
    expect(control, 'the stack started RabbitMQ itself').toBeDefined();
    const customerId = uid('cus');
    await topUp(customerId, 100_000);
    await expectDelivered([`wallets/${customerId}`]);

    rabbitmqctl(control!, 'stop_app');
    const stoppedAt = Date.now();
    const payments: { id: string; status: string }[] = [];
    try {
      // Payments for the 30 s the broker is down, each once Kafka has the one before; each answers at once.
      while (Date.now() - stoppedAt < 30_000) {
        const started = Date.now();
        const paid = await walletPayment(customerId, 100);
        expect(paid.status).toBe('succeeded');
        expect(Date.now() - started).toBeLessThan(2_000);
        payments.push(paid);
        // The relay has passed this payment on Kafka; on RabbitMQ, down, its cursor cannot.
        const subjects = [`payments/${paid.id}`];
        await eventually(() => relayPassed(db, 'kafka', subjects), 30_000, 'Kafka past the payment');
        expect((await outbox(subjects)).some((row) => row.amqp)).toBe(false);
      }
      const subjects = payments.map((p) => `payments/${p.id}`);
      // Nothing of it could be confirmed by RabbitMQ while it was down; Kafka took it all meanwhile.
      const rows = await outbox(subjects);
      expect(rows.every((row) => !row.amqp)).toBe(true);
      await eventually(
        () => rows.every((row) => kafka.received.some((r) => r.event.id === row.id)),
        30_000,
        'the events on Kafka while RabbitMQ is down',
      );
    } finally {
      rabbitmqctl(control!, 'start_app');
    }
    expect(payments.length).toBeGreaterThanOrEqual(8);
    const subjects = [`wallets/${customerId}`, ...payments.map((p) => `payments/${p.id}`)];
    const rows = await expectDelivered(subjects);
    expect(rows.length).toBe(1 + 2 * payments.length); // the top-up, then created + succeeded each
    expectDuplicatesOnlyWithTheSameId(subjects);
  }, 180_000);
});
