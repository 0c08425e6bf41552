/**
 * Events out to a real Kafka and a real RabbitMQ, started by the stack's own launchers: what a
 * subscriber of `paysaga.events` receives, in which order, and what happens when a broker hangs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
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
import { testDatabase } from '../support/db.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';

const kafkaBrokers = inject('kafkaBrokers');
const amqpUrl = inject('amqpUrl');
const db = testDatabase();

/** The outbox rows of these subjects, in the order they were written. */
async function outbox(subjects: string[]) {
  const { rows } = await db.pool.query(
    `SELECT id, tenant_id AS "tenantId", type, source, subject, time, data, published_at AS "publishedAt", seq
       FROM events WHERE subject = ANY($1) ORDER BY seq`,
    [subjects],
  );
  return rows as Array<{ id: string; type: string; subject: string; publishedAt: Date | null }>;
}

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
    expect(declined).toMatchObject({ status: 'failed', failureCode: 'card_declined' });

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
      'payment.created', // the declined card payment
      'payment.failed',
    ]);
    // The outbox marks what the brokers confirmed.
    await eventually(
      async () => (await outbox(subjects)).every((row) => row.publishedAt !== null),
      10_000,
      'the outbox rows marked published',
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

  it('a broker that hangs delays events and loses none: payments settle meanwhile, events follow in order', async () => {
    const pid = inject('brokerPids').rabbitmq;
    expect(pid, 'the stack started RabbitMQ itself').toBeTypeOf('number');
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
      // The relay cannot get them confirmed while RabbitMQ hangs, so none is marked published.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const waiting = (await outbox(subjects)).filter((row) => row.publishedAt === null);
      expect(waiting.length).toBeGreaterThanOrEqual(6);
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
    // Once it answers again, every event arrives, each payment's in order, on both brokers.
    await expectDelivered(subjects);
  });
});
