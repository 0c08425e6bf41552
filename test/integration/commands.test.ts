/**
 * Commands in from a real Kafka and a real RabbitMQ: the consumer process the stack starts reads
 * `paysaga.commands` (signed per tenant) and `paysaga.commands.default` (bound to tenant
 * `default`), and starts the same workflows as the HTTP API.
 */
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { paymentIdFor } from '../../src/app/payments.js';
import { AMQP_COMMANDS_DLQ, AMQP_COMMANDS_QUEUE } from '../../src/commands/amqp-source.js';
import type { CommandMessage } from '../../src/commands/messages.js';
import {
  KAFKA_COMMANDS_DLQ_TOPIC,
  KAFKA_COMMANDS_TOPIC,
  runKafkaCommands,
  type KafkaCommandsOptions,
} from '../../src/commands/kafka-source.js';
import { COMMAND_SIGNATURE_HEADER } from '../../src/commands/trust.js';
import { DEV_COMMAND_SECRET, DEV_TENANT_COMMAND_SOURCE } from '../../tools/stack/stack.js';
import { loadCommandOffsets, saveCommandOffset } from '../../src/db/command-offsets.js';
import { ensureKafkaTopic } from '../../src/events/kafka-sink.js';
import { signWebhook } from '../../src/gateway/webhook-signature.js';
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
import { OTHER_COMMAND_SECRET, TENANT_KEYS } from '../support/tenants.js';

const kafkaBrokers = inject('kafkaBrokers');
const amqpUrl = inject('amqpUrl');
const db = testDatabase();
afterAll(() => db.close());

const payment = async (id: string, key?: string) =>
  (await api('GET', `/v1/payments/${id}`, undefined, key ? { key } : {})).body;
const available = async (customerId: string) =>
  (await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]?.available;

const nowSec = () => Math.floor(Date.now() / 1000);
/** The header a tenant's publisher adds: its command secret's signature of the body. */
const signature = (body: string, secret = DEV_COMMAND_SECRET, at = nowSec()) => ({
  [COMMAND_SIGNATURE_HEADER]: signWebhook(secret, body, at),
});
const paymentRows = (tenantId: string, orderId: string) =>
  count(db, 'SELECT 1 FROM payments WHERE tenant_id = $1 AND order_id = $2', [tenantId, orderId]);

async function settledPayment(id: string, key?: string) {
  let current: { status?: string } = {};
  await eventually(
    async () => {
      current = await payment(id, key);
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
    await ensureKafkaTopic({ brokers: [kafkaBrokers!] }, KAFKA_COMMANDS_DLQ_TOPIC);
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

  /** Signed by tenant `default`, as its publisher does. */
  const send = (...values: string[]) => sendAs(values.map((value) => ({ value, headers: signature(value) })));
  const sendAs = (
    messages: { value: string; headers?: Record<string, string> }[],
    topic = KAFKA_COMMANDS_TOPIC,
  ) => producer.send({ messages: messages.map((message) => ({ topic, key: 'k', ...message })) });

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
      reason: expect.stringMatching(/^invalid JSON/),
      'source-topic': KAFKA_COMMANDS_TOPIC,
    });
    expect(dlq.find((m) => m.value === unknownTenant)!.headers.reason).toBe(
      'unauthenticated: tenant "nobody" has no command secret',
    );
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

  it('acts for a tenant only on its own signature: unsigned, forged, replayed and reserved-metadata commands are dead-lettered and change nothing', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const order = (extra: Record<string, unknown> = {}) => {
      const orderId = uid('ord');
      const body = JSON.stringify({
        type: 'payment.create',
        tenantId: 'default',
        orderId,
        customerId,
        amount: 700,
        currency: 'USD',
        method: { type: 'wallet' },
        ...extra,
      });
      return { orderId, body };
    };
    const unsigned = order();
    const signedByOther = order();
    const replayed = order();
    const tampered = order();
    const reserved = order({ metadata: { 'paysaga.reply': 'OrderPayment' } });
    // Tenant `other` signing for itself is what it may do: a card payment of its own.
    const othersOwn = order({ tenantId: 'other', method: { type: 'card', token: 'tok_test_4242' } });
    await sendAs([
      { value: unsigned.body },
      { value: signedByOther.body, headers: signature(signedByOther.body, OTHER_COMMAND_SECRET) },
      { value: replayed.body, headers: signature(replayed.body, DEV_COMMAND_SECRET, nowSec() - 2 * 86_400) },
      { value: tampered.body.replace('"amount":700', '"amount":7000'), headers: signature(tampered.body) },
      { value: reserved.body, headers: signature(reserved.body) },
      { value: othersOwn.body, headers: signature(othersOwn.body, OTHER_COMMAND_SECRET) },
    ]);
    const reasonOf = async (orderId: string) => {
      await eventually(() => dlq.some((m) => m.value.includes(orderId)), 30_000, `${orderId} in the DLQ`);
      return dlq.find((m) => m.value.includes(orderId))!.headers.reason;
    };
    expect(await reasonOf(unsigned.orderId)).toBe('unauthenticated: missing_header (tenant "default")');
    expect(await reasonOf(signedByOther.orderId)).toBe(
      'unauthenticated: signature_mismatch (tenant "default")',
    );
    expect(await reasonOf(replayed.orderId)).toBe(
      'unauthenticated: timestamp_out_of_tolerance (tenant "default")',
    );
    expect(await reasonOf(tampered.orderId)).toBe('unauthenticated: signature_mismatch (tenant "default")');
    expect(await reasonOf(reserved.orderId)).toMatch(
      /^metadata\.paysaga\.reply: keys starting with "paysaga\." are reserved/,
    );
    expect(await settledPayment(paymentIdFor('other', othersOwn.orderId), TENANT_KEYS.other)).toMatchObject({
      status: 'succeeded',
    });
    for (const refused of [unsigned, signedByOther, replayed, tampered, reserved])
      expect(await paymentRows('default', refused.orderId)).toBe(0);
    expect(await available(customerId)).toBe(5000);
  });

  it('resumes from PostgreSQL when Kafka has forgotten the group offsets, instead of reading the topic again from its start', async () => {
    const topic = `paysaga.test-commands.${uid('t')}`;
    const group = `paysaga-test-${uid('group')}`;
    const seen: string[] = [];
    const logs: string[] = [];
    const options: KafkaCommandsOptions = {
      connection: { brokers: [kafkaBrokers!] },
      topics: [topic],
      group,
      offsets: {
        load: (g, t) => loadCommandOffsets(db.db, g, t),
        save: (g, t, partition, next) => saveCommandOffset(db.db, g, t, partition, next),
      },
      start: 'earliest',
    };
    const consume = () => {
      const stopping = new AbortController();
      const running = runKafkaCommands(options, {
        handler: {
          handle: async (command: CommandMessage) => {
            seen.push((command as { orderId: string }).orderId);
            return { kind: 'started', resource: 'pay_test' };
          },
        },
        trust: {
          secrets: new Map([['default', [DEV_COMMAND_SECRET]]]),
          tenantSources: new Map(),
          toleranceSec: 3600,
          defaultTenant: 'default',
        },
        dependenciesUp: async () => true,
        maxAttempts: 3,
        log: (line) => logs.push(line),
        signal: stopping.signal,
      });
      return async () => {
        stopping.abort();
        await running;
      };
    };
    const commands = (n: number) =>
      Array.from({ length: n }, () => {
        const orderId = uid('ord');
        return JSON.stringify({
          type: 'OrderStockConfirmed',
          tenantId: 'default',
          orderId,
          customerId: 'c',
          amount: 100,
          currency: 'EUR',
          token: 'tok_test_4242',
        });
      });
    await ensureKafkaTopic({ brokers: [kafkaBrokers!] }, topic);
    const first = commands(3);
    // One key: one partition, read in the order sent.
    await sendAs(
      first.map((value) => ({ value, headers: signature(value) })),
      topic,
    );
    const stopFirst = consume();
    await eventually(() => seen.length === 3, 60_000, 'the first three commands');
    await stopFirst();
    // What offsets.retention.minutes does to a group without members: Kafka forgets its offsets.
    const admin = new Admin({ clientId: 'paysaga-test', bootstrapBrokers: [kafkaBrokers!] });
    await eventually(
      () =>
        admin.deleteGroups({ groups: [group] }).then(
          () => true,
          () => false,
        ),
      30_000,
      'the group to be deleted',
    );
    await admin.close();

    const second = commands(2);
    await sendAs(
      second.map((value) => ({ value, headers: signature(value) })),
      topic,
    );
    const stopSecond = consume();
    const orderOf = (value: string) => (JSON.parse(value) as { orderId: string }).orderId;
    await eventually(
      () => second.every((value) => seen.includes(orderOf(value))),
      60_000,
      'the next two commands',
    );
    await stopSecond();
    // Behind the first three on the partition: had they been read again, they would be here first.
    expect(seen).toEqual([...first, ...second].map(orderOf));
    expect(logs.some((line) => line.includes('resuming from PostgreSQL'))).toBe(true);
  });
});

describe.skipIf(!amqpUrl)('commands from RabbitMQ (food ordering)', () => {
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let events: Collector;
  const dlq: { body: string; reason: unknown; source: unknown }[] = [];

  beforeAll(async () => {
    connection = await amqp.connect(amqpUrl!);
    channel = await connection.createConfirmChannel();
    for (const queue of [AMQP_COMMANDS_QUEUE, DEV_TENANT_COMMAND_SOURCE, AMQP_COMMANDS_DLQ])
      await channel.assertQueue(queue, { durable: true });
    await channel.consume(AMQP_COMMANDS_DLQ, (message) => {
      if (!message) return;
      dlq.push({
        body: message.content.toString(),
        reason: message.properties.headers?.['x-paysaga-reason'],
        source: message.properties.headers?.['x-paysaga-source'],
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

  /** To the queue bound to tenant `default`, as the food-ordering service (which cannot sign) does. */
  const send = (body: unknown, type?: string) => sendTo(DEV_TENANT_COMMAND_SOURCE, body, type);
  const sendTo = async (queue: string, body: unknown, type?: string, headers?: Record<string, string>) => {
    channel.sendToQueue(queue, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), {
      persistent: true,
      ...(type ? { type } : {}),
      ...(headers ? { headers } : {}),
    });
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
    expect(dlq.find((m) => m.body.includes(orderId))).toMatchObject({
      reason: expect.stringMatching(/^amount: /),
      source: DEV_TENANT_COMMAND_SOURCE,
    });
    expect((await api('GET', `/v1/payments/${paymentIdFor('default', orderId)}`)).status).toBe(404);
    // Settled messages are acknowledged: nothing is left for the consumer to take again.
    for (const queue of [AMQP_COMMANDS_QUEUE, DEV_TENANT_COMMAND_SOURCE])
      await eventually(
        async () => (await channel.checkQueue(queue)).messageCount === 0,
        10_000,
        `${queue} to drain`,
      );
  });

  it('takes unsigned commands only from the queue bound to their tenant, and only for that tenant', async () => {
    const confirmed = (extra: Record<string, unknown> = {}) => ({
      type: 'OrderStockConfirmed',
      orderId: uid('ord'),
      customerId: uid('buyer'),
      amount: 1500,
      currency: 'EUR',
      token: 'tok_test_4242',
      ...extra,
    });
    const unsignedShared = confirmed();
    const forOther = confirmed({ tenantId: 'other' });
    const signedShared = confirmed();
    await sendTo(AMQP_COMMANDS_QUEUE, unsignedShared);
    await sendTo(DEV_TENANT_COMMAND_SOURCE, forOther);
    const signedBody = JSON.stringify(signedShared);
    await sendTo(AMQP_COMMANDS_QUEUE, signedBody, undefined, signature(signedBody));

    const reasonOf = async (orderId: string) => {
      await eventually(() => dlq.some((m) => m.body.includes(orderId)), 30_000, `${orderId} in the DLQ`);
      return dlq.find((m) => m.body.includes(orderId))!.reason;
    };
    expect(await reasonOf(unsignedShared.orderId)).toBe('unauthenticated: missing_header (tenant "default")');
    expect(await reasonOf(forOther.orderId)).toBe(
      `unauthenticated: tenantId "other" on ${DEV_TENANT_COMMAND_SOURCE}, which is bound to tenant "default"`,
    );
    expect(await settledPayment(paymentIdFor('default', signedShared.orderId))).toMatchObject({
      status: 'succeeded',
    });
    expect(await paymentRows('default', unsignedShared.orderId)).toBe(0);
    expect(await paymentRows('other', forOther.orderId)).toBe(0);
  });
});
