/**
 * The shipped integration profiles against a real Kafka and a real RabbitMQ: each system's own
 * messages, published by a plain client to its own topics and exchanges, and the messages its
 * own consumers read back. The stack binds `transit`, `food-ordering` and `ride-hailing` to
 * tenants of their own (test/setup/global-stack.ts).
 */
import { Producer, stringSerializers } from '@platformatic/kafka';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { WebSocket as WsClient } from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AMQP_COMMANDS_DLQ } from '../../src/commands/amqp-source.js';
import { KAFKA_COMMANDS_DLQ_TOPIC } from '../../src/commands/kafka-source.js';
import { collectExchange, collectTopics, eventually, type RawMessage } from '../support/brokers.js';
import { chargesFor } from '../support/gateway.js';
import { api, expectLedgerClean } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';
import { postCheckoutForm } from '../support/checkout.js';

const kafkaBrokers = inject('kafkaBrokers');
const amqpUrl = inject('amqpUrl');
const both = Boolean(kafkaBrokers && amqpUrl);

/** Waits for the messages `match` picks and returns them. */
async function received(
  list: RawMessage[],
  match: (message: RawMessage) => boolean,
  count = 1,
  what = 'a message',
) {
  await eventually(() => list.filter(match).length >= count, 30_000, what);
  return list.filter(match);
}

describe.skipIf(!both)('transit ticketing on Kafka (profile transit)', () => {
  let producer: Producer<string, string, string, string>;
  let out: Awaited<ReturnType<typeof collectTopics>>;
  const key = TENANT_KEYS.transit;

  beforeAll(async () => {
    producer = new Producer({
      clientId: 'transit-test',
      bootstrapBrokers: [kafkaBrokers!],
      serializers: stringSerializers,
    });
    out = await collectTopics(kafkaBrokers!, [
      'payment.completed',
      'payment.failed',
      'wallet.updated',
      'notifications.send',
    ]);
  });
  afterAll(async () => {
    await out?.close();
    await producer?.close();
  });

  const publish = (topic: string, body: string) => producer.send({ messages: [{ topic, value: body }] });

  it('a wallet shortfall answers FAILED; a retry after a top-up answers COMPLETED for the same reference', async () => {
    const userId = 100_000 + Math.floor(Math.random() * 800_000);
    const ticketId = 1_000_000 + Math.floor(Math.random() * 8_000_000);
    const topUp = (amount: number) =>
      api(
        'POST',
        `/v1/wallets/${userId}/top-ups`,
        { amount, currency: 'NAD', token: 'tok_test_4242' },
        { key },
      );
    expect((await topUp(300)).status).toBe(200);
    const ofTicket = (message: RawMessage) => message.json?.ticketId === ticketId;

    // Exactly as the ticketing service writes it: numbers for ids, a decimal amount in NAD.
    const purchase = `{ "ticketId": ${ticketId}, "userId": ${userId}, "amount": 12.50, "paymentMethod": "WALLET", "requestId": "${randomUUID()}" }`;
    await publish('ticket.purchase.requests', purchase);
    const [failed] = await received(
      out.received,
      (m) => m.destination === 'payment.failed' && ofTicket(m),
      1,
      'payment.failed',
    );
    expect(failed!.json).toEqual({
      paymentReference: expect.stringMatching(/^PAY-\d{8}-[0-9a-f]{8}$/),
      ticketId,
      userId,
      amount: 12.5,
      status: 'FAILED',
      failureCode: 'INSUFFICIENT_FUNDS',
      failureReason: expect.any(String),
      timestamp: expect.any(String),
    });
    // The amount is written with the currency's decimals, as the contract writes it.
    expect(failed!.body).toContain('"amount":12.50');
    expect(failed!.key).toBe(String(ticketId));

    expect((await topUp(2000)).status).toBe(200);
    const [updated] = await received(
      out.received,
      (m) => m.destination === 'wallet.updated' && m.json?.userId === userId && m.json?.amount === 20,
      1,
      'wallet.updated',
    );
    expect(updated!.json).toMatchObject({ userId, balance: 23, currency: 'NAD', reason: 'TOP_UP' });
    expect(updated!.body).toContain('"balance":23.00');

    await publish(
      'payment.retry.requests',
      purchase.replace(/"requestId": "[^"]+"/, `"requestId": "${randomUUID()}"`),
    );
    const [completed] = await received(
      out.received,
      (m) => m.destination === 'payment.completed' && ofTicket(m),
      1,
      'payment.completed',
    );
    expect(completed!.json).toEqual({
      paymentReference: failed!.json.paymentReference,
      ticketId,
      userId,
      amount: 12.5,
      status: 'COMPLETED',
      timestamp: expect.any(String),
    });
    const notices = await received(
      out.received,
      (m) => m.destination === 'notifications.send' && m.json?.userId === userId,
      2,
      'two rider notices',
    );
    expect(notices.map((n) => n.json.type)).toEqual(['PAYMENT_FAILED', 'PAYMENT_COMPLETED']);
    const wallet = await api('GET', `/v1/wallets/${userId}`, undefined, { key });
    expect(wallet.body.balances).toEqual([{ currency: 'NAD', available: 1050, pending: 0 }]);
    await expectLedgerClean();
  });

  it('a retry for a ticket never bought is dead-lettered with the reason, and nothing is paid', async () => {
    const ticketId = 9_000_000 + Math.floor(Math.random() * 900_000);
    const dlq = await collectTopics(kafkaBrokers!, [KAFKA_COMMANDS_DLQ_TOPIC]);
    try {
      const body = JSON.stringify({
        ticketId,
        userId: 7,
        amount: 1,
        paymentMethod: 'WALLET',
        requestId: randomUUID(),
      });
      await publish('payment.retry.requests', body);
      const [dead] = await received(dlq.received, (m) => m.body === body, 1, 'the retry dead-lettered');
      expect(dead).toBeDefined();
      const payments = await api('GET', `/v1/payments?customerId=7`, undefined, { key });
      expect(
        payments.body.data.filter((p: { orderId: string }) => p.orderId === `ticket-${ticketId}`),
      ).toEqual([]);
    } finally {
      await dlq.close();
    }
  });
});

describe.skipIf(!both)('food ordering on RabbitMQ (profile food-ordering)', () => {
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let replies: Awaited<ReturnType<typeof collectExchange>>;
  const deadLetters: { body: string; reason: string }[] = [];

  beforeAll(async () => {
    connection = await amqp.connect(amqpUrl!);
    channel = await connection.createConfirmChannel();
    await channel.assertExchange('foodies.events', 'topic', { durable: true });
    replies = await collectExchange(amqpUrl!, 'foodies.events', 'payment.#');
    await channel.assertQueue(AMQP_COMMANDS_DLQ, { durable: true });
  });
  afterAll(async () => {
    await replies?.close();
    await connection?.close();
  });

  /** As the order service publishes it: to its own exchange, with its own routing key. */
  async function stockConfirmed(body: string) {
    channel.publish('foodies.events', 'order.stock-confirmed', Buffer.from(body), {
      persistent: true,
      contentType: 'application/json',
    });
    await channel.waitForConfirms();
  }
  const message = (orderId: number, eventId: string, token: string) =>
    `{ "eventId": "${eventId}", "orderId": ${orderId}, "buyerId": "buyer-${orderId}", "totalAmount": 49.99, ` +
    `"currency": "EUR", "paymentMethod": { "type": "CARD", "token": "${token}" }, "occurredAt": "2026-12-05T10:00:00Z" }`;

  it('charges the order once and publishes payment.succeeded for each time the event arrives', async () => {
    const orderId = 100_000 + Math.floor(Math.random() * 800_000);
    const eventId = randomUUID();
    await stockConfirmed(message(orderId, eventId, 'tok_test_4242'));
    const ofOrder = (m: RawMessage) => m.destination === 'payment.succeeded' && m.json?.orderId === orderId;
    const [first] = await received(replies.received, ofOrder, 1, 'payment.succeeded');
    expect(first!.json).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      orderId,
      paymentId: expect.any(Number),
      transactionId: expect.any(String),
      amount: 49.99,
      currency: 'EUR',
      processedAt: expect.any(String),
    });
    expect(Number.isSafeInteger(first!.json.paymentId)).toBe(true);

    await stockConfirmed(message(orderId, eventId, 'tok_test_4242'));
    const twice = await received(replies.received, ofOrder, 2, 'payment.succeeded published again');
    expect(twice[1]!.json).toEqual(first!.json);
    const payments = await api('GET', `/v1/payments?customerId=buyer-${orderId}`, undefined, {
      key: TENANT_KEYS.foodies,
    });
    expect(payments.body.data).toHaveLength(1);
    expect(await chargesFor(payments.body.data[0]!.id)).toMatchObject({ authorizations: 1, captures: 1 });
  });

  it('a declined card ends the order saga with payment.failed and its failure code', async () => {
    const orderId = 100_000 + Math.floor(Math.random() * 800_000);
    await stockConfirmed(message(orderId, randomUUID(), 'tok_test_0000'));
    const [failed] = await received(
      replies.received,
      (m) => m.destination === 'payment.failed' && m.json?.orderId === orderId,
      1,
      'payment.failed',
    );
    expect(failed!.json).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      orderId,
      failureReason: expect.any(String),
      failureCode: 'CARD_DECLINED',
      occurredAt: expect.any(String),
    });
    await expectLedgerClean();
  });

  it('a malformed message goes to the dead-letter queue with the reason, and nothing is charged', async () => {
    const bad = `{ "eventId": "${randomUUID()}", "orderId": 5, "buyerId": "b", "totalAmount": 49.999, "currency": "EUR", "paymentMethod": { "type": "CARD", "token": "tok_test_4242" } }`;
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'foodies.events', 'nothing');
    await stockConfirmed(bad);
    await stockConfirmed('not json');
    await eventually(
      async () => {
        for (;;) {
          const got = await channel.get(AMQP_COMMANDS_DLQ, { noAck: true });
          if (!got) break;
          if (got.properties.headers?.['x-paysaga-source'] === 'payment.stock-confirmed')
            deadLetters.push({
              body: got.content.toString(),
              reason: String(got.properties.headers['x-paysaga-reason']),
            });
        }
        return deadLetters.some((d) => d.body === bad) && deadLetters.some((d) => d.body === 'not json');
      },
      30_000,
      'both messages dead-lettered',
    );
    expect(deadLetters.find((d) => d.body === bad)!.reason).toMatch(
      /unmappable: .*"49\.999" has more decimal places than the 2 of EUR/,
    );
    expect(deadLetters.find((d) => d.body === 'not json')!.reason).toMatch(/invalid JSON/);
  });
});

describe.skipIf(!both)('ride hailing on Kafka and WebSocket (profile ride-hailing)', () => {
  let producer: Producer<string, string, string, string>;
  const key = TENANT_KEYS.rides;

  beforeAll(() => {
    producer = new Producer({
      clientId: 'rides-test',
      bootstrapBrokers: [kafkaBrokers!],
      serializers: stringSerializers,
    });
  });
  afterAll(() => producer?.close());

  /** The rider's app: a customer token from the ride service, then Paysaga's stream in the profile's words. */
  async function riderStream(userId: string) {
    const token = (await api('POST', '/v1/customer-tokens', { customerId: userId }, { key })).body.token;
    const socket = new WebSocket(
      `${inject('apiUrl').replace('http', 'ws')}/v1/stream?profile=ride-hailing&access_token=${token}`,
    );
    const messages: Record<string, unknown>[] = [];
    socket.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    return { socket, messages };
  }

  it("turns a ride's fare into a checkout whose payment_url, then its status, reach the rider's stream", async () => {
    const rideId = `ride${randomUUID().slice(0, 8)}`;
    const userId = `user${randomUUID().slice(0, 8)}`;
    const rider = await riderStream(userId);
    try {
      await producer.send({
        messages: [
          {
            topic: 'payment-events',
            value: `{ "rideId": "${rideId}", "userId": "${userId}", "fare": "25.50" }`,
          },
        ],
      });
      await expect.poll(() => rider.messages, { timeout: 30_000 }).toHaveLength(1);
      const [first] = rider.messages as { paymentUrl: string }[];
      expect(first).toEqual({
        type: 'payment_url',
        rideId,
        paymentUrl: expect.stringMatching(new RegExp(`^${inject('apiUrl')}/checkout/cs_[0-9a-f]+$`)),
        status: 'pending',
      });
      const sessionId = first!.paymentUrl.split('/').pop()!;
      const session = await api('GET', `/v1/checkout-sessions/${sessionId}`, undefined, { key });
      expect(session.body).toMatchObject({
        orderId: rideId,
        customerId: userId,
        amount: 2550,
        currency: 'USD',
      });

      expect((await postCheckoutForm(sessionId, { method: 'card', token: 'tok_test_4242' })).status).toBe(
        303,
      );
      await expect.poll(() => rider.messages, { timeout: 30_000 }).toHaveLength(2);
      expect(rider.messages[1]).toEqual({
        type: 'payment_status',
        rideId,
        status: 'completed',
        paymentId: expect.stringMatching(/^pay_/),
      });
    } finally {
      rider.socket.close();
    }
  });

  it('refuses a stream in the words of a profile the tenant does not have, before the upgrade', async () => {
    const token = (await api('POST', '/v1/customer-tokens', { customerId: 'u1' }, { key })).body.token;
    const refused = new WsClient(
      `${inject('apiUrl').replace('http', 'ws')}/v1/stream?profile=transit&access_token=${token}`,
    );
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      refused.on('open', () => reject(new Error('the stream opened')));
      refused.on('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'profile_not_found' });
  });
});
