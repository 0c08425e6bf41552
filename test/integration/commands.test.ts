/**
 * Commands in from a real Kafka and a real RabbitMQ: the consumer process the stack starts reads
 * `paysaga.commands` and starts the same workflows as the HTTP API.
 */
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { paymentIdFor } from '../../src/api/services/payments.js';
import { AMQP_COMMANDS_DLQ, AMQP_COMMANDS_QUEUE } from '../../src/commands/amqp-source.js';
import { KAFKA_COMMANDS_DLQ_TOPIC, KAFKA_COMMANDS_TOPIC } from '../../src/commands/kafka-source.js';
import { ensureKafkaTopic } from '../../src/events/kafka-sink.js';
import {
  collectFromKafka,
  collectFromRabbitMq,
  deduplicated,
  eventually,
  type Collector,
} from '../support/brokers.js';
import { count, testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';

const kafkaBrokers = inject('kafkaBrokers');
const amqpUrl = inject('amqpUrl');
const db = testDatabase();
afterAll(() => db.close());

const payment = async (id: string) => (await api('GET', `/v1/payments/${id}`)).body;
const available = async (customerId: string) =>
  (await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]?.available;

async function settledPayment(id: string) {
  let current: { status?: string } = {};
  await eventually(
    async () => {
      current = await payment(id);
      return ['succeeded', 'failed', 'canceled'].includes(current.status ?? '');
    },
    30_000,
    `payment ${id} to settle`,
  );
  return current;
}

describe.skipIf(!kafkaBrokers)('commands from Kafka', () => {
  let producer: Producer<string, string, string, string>;
  let events: Collector;
  const dlq: { value: string; headers: Record<string, string> }[] = [];
  let dlqConsumer: Consumer<string, string, string, string>;

  beforeAll(async () => {
    producer = new Producer({
      clientId: 'paysaga-test',
      bootstrapBrokers: [kafkaBrokers!],
      serializers: stringSerializers,
    });
    await ensureKafkaTopic([kafkaBrokers!], KAFKA_COMMANDS_DLQ_TOPIC);
    dlqConsumer = new Consumer({
      groupId: `paysaga-test-dlq-${Date.now()}`,
      clientId: 'paysaga-test',
      bootstrapBrokers: [kafkaBrokers!],
      deserializers: stringDeserializers,
    });
    const stream = await dlqConsumer.consume({ topics: [KAFKA_COMMANDS_DLQ_TOPIC], mode: 'earliest' });
    stream.on('data', (message) =>
      dlq.push({ value: message.value, headers: Object.fromEntries(message.headers) }),
    );
    events = await collectFromKafka(kafkaBrokers!);
  });
  afterAll(async () => {
    await producer?.close();
    await dlqConsumer?.close(true);
    await events?.close();
    await expectLedgerClean();
  });

  const send = (...values: string[]) =>
    producer.send({ messages: values.map((value) => ({ topic: KAFKA_COMMANDS_TOPIC, key: 'k', value })) });

  it('a command delivered 5 times and 20 others at once: one payment and one ledger posting per order; bad messages are dead-lettered and the consumer keeps going', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const create = (orderId: string, amount: number) =>
      JSON.stringify({
        type: 'payment.create',
        tenantId: 'default',
        orderId,
        customerId,
        amount,
        currency: 'USD',
        method: { type: 'wallet' },
      });
    const orderId = uid('ord');
    const command = create(orderId, 1200);
    const unknownTenant = JSON.stringify({ ...JSON.parse(command), tenantId: 'nobody', orderId: uid('ord') });
    const marker = uid('bad');
    const others = Array.from({ length: 20 }, () => uid('ord'));
    await send(command, command, `{"not json ${marker}`, unknownTenant, command, command);
    // After the bad ones: a fifth copy and twenty new orders in one batch.
    await send(command, ...others.map((other) => create(other, 100)));

    const orders = [orderId, ...others];
    for (const order of orders) {
      expect(await settledPayment(paymentIdFor('default', order))).toMatchObject({ status: 'succeeded' });
      expect(
        await count(db, 'SELECT 1 FROM payments WHERE tenant_id = $1 AND order_id = $2', ['default', order]),
      ).toBe(1);
      expect(
        await count(db, "SELECT 1 FROM ledger_transfers WHERE id LIKE $1 AND kind IN ('single', 'post')", [
          `payment:default:${order}#%`,
        ]),
      ).toBe(1);
    }
    expect(await available(customerId)).toBe(5000 - 1200 - 20 * 100);
    // The outcome goes out as events like any payment's.
    const paymentId = paymentIdFor('default', orderId);
    await eventually(
      () =>
        deduplicated(events.received, [`payments/${paymentId}`]).some(
          (r) => r.event.type === 'payment.succeeded',
        ),
      30_000,
      'payment.succeeded on Kafka',
    );
    await eventually(
      () => dlq.some((m) => m.value.includes(marker)),
      30_000,
      'the invalid message in the DLQ',
    );
    await eventually(
      () => dlq.some((m) => m.value === unknownTenant),
      30_000,
      'the refused message in the DLQ',
    );
    expect(dlq.find((m) => m.value.includes(marker))!.headers).toMatchObject({
      reason: expect.stringMatching(/^not JSON/),
      'source-topic': KAFKA_COMMANDS_TOPIC,
    });
    expect(dlq.find((m) => m.value === unknownTenant)!.headers.reason).toBe('unknown tenant "nobody"');
    // The valid command is never dead-lettered, however often it came.
    expect(dlq.filter((m) => m.value === command)).toEqual([]);
  });

  it('a refund.create refunds once per idempotency key', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 3000);
    const paid = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId,
        amount: 2000,
        currency: 'USD',
        method: { type: 'wallet' },
      })
    ).body;
    const refund = JSON.stringify({
      type: 'refund.create',
      tenantId: 'default',
      paymentId: paid.id,
      amount: 700,
      idempotencyKey: uid('rk'),
    });
    await send(refund, refund);
    await eventually(
      async () => (await payment(paid.id)).amountRefunded === 700,
      30_000,
      'the refund to land',
    );
    const refunds = (await api('GET', `/v1/payments/${paid.id}/refunds`)).body;
    expect(refunds.data ?? refunds).toHaveLength(1);
    expect(await available(customerId)).toBe(1700);
  });
});

describe.skipIf(!amqpUrl)('commands from RabbitMQ (food ordering)', () => {
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let events: Collector;
  const dlq: { body: string; reason: unknown }[] = [];

  beforeAll(async () => {
    connection = await amqp.connect(amqpUrl!);
    channel = await connection.createConfirmChannel();
    await channel.assertQueue(AMQP_COMMANDS_QUEUE, { durable: true });
    await channel.assertQueue(AMQP_COMMANDS_DLQ, { durable: true });
    await channel.consume(AMQP_COMMANDS_DLQ, (message) => {
      if (!message) return;
      dlq.push({
        body: message.content.toString(),
        reason: message.properties.headers?.['x-paysaga-reason'],
      });
      channel.ack(message);
    });
    events = await collectFromRabbitMq(amqpUrl!);
  });
  afterAll(async () => {
    await events?.close();
    await connection?.close();
    await expectLedgerClean();
  });

  const send = async (body: unknown, type?: string) => {
    channel.sendToQueue(
      AMQP_COMMANDS_QUEUE,
      Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      {
        persistent: true,
        ...(type ? { type } : {}),
      },
    );
    await channel.waitForConfirms();
  };

  it('OrderStockConfirmed charges the card once and is answered by OrderPaymentSucceeded / OrderPaymentFailed', async () => {
    const paidOrder = uid('ord');
    const declinedOrder = uid('ord');
    const confirmed = (orderId: string, token: string) => ({
      orderId,
      customerId: uid('buyer'),
      amount: 2350,
      currency: 'EUR',
      token,
    });
    const paidMessage = confirmed(paidOrder, 'tok_test_4242');
    // The type may come as the AMQP message type (as the food-ordering service publishes it) or in the body.
    await send(paidMessage, 'OrderStockConfirmed');
    await send(paidMessage, 'OrderStockConfirmed');
    await send({ type: 'OrderStockConfirmed', ...confirmed(declinedOrder, 'tok_test_0000') });

    const paidId = paymentIdFor('default', paidOrder);
    const declinedId = paymentIdFor('default', declinedOrder);
    const replies = () =>
      deduplicated(events.received, [`payments/${paidId}`, `payments/${declinedId}`]).filter((r) =>
        r.event.type.startsWith('OrderPayment'),
      );
    await eventually(() => replies().length === 2, 30_000, 'both replies');
    const byType = Object.fromEntries(replies().map((r) => [r.event.type, r]));
    expect(byType.OrderPaymentSucceeded!.event.data).toEqual({ orderId: paidOrder, paymentId: paidId });
    expect(byType.OrderPaymentSucceeded!.routing).toBe('OrderPaymentSucceeded');
    expect(byType.OrderPaymentFailed!.event.data).toEqual({
      orderId: declinedOrder,
      paymentId: declinedId,
      failureCode: 'card_declined',
    });
    expect(await payment(paidId)).toMatchObject({ status: 'succeeded', amount: 2350, currency: 'EUR' });
    expect((await chargesFor(paidId)).authorizations).toBe(1);
  });

  it('an invalid command goes to paysaga.commands.dlq with the reason and is not retried', async () => {
    const orderId = uid('ord');
    await send({
      type: 'OrderStockConfirmed',
      orderId,
      customerId: 'c',
      amount: -5,
      currency: 'EUR',
      token: 'tok_test_4242',
    });
    await send('{"type": "payment.create"');
    await eventually(
      () => dlq.some((m) => m.body.includes(orderId)),
      30_000,
      'the invalid amount in the DLQ',
    );
    await eventually(
      () => dlq.some((m) => m.body === '{"type": "payment.create"'),
      30_000,
      'the bad JSON in the DLQ',
    );
    expect(String(dlq.find((m) => m.body.includes(orderId))!.reason)).toMatch(/^amount: /);
    expect((await api('GET', `/v1/payments/${paymentIdFor('default', orderId)}`)).status).toBe(404);
    // Settled messages are acknowledged: nothing is left for the consumer to take again.
    await eventually(
      async () => (await channel.checkQueue(AMQP_COMMANDS_QUEUE)).messageCount === 0,
      10_000,
      'the commands queue to drain',
    );
  });
});
