import { describe, expect, it } from 'vitest';
import { CommitTracker } from '../../src/commands/kafka-source.js';
import { orderPaymentRequest, parseBody, parseCommand } from '../../src/commands/messages.js';
import { cloudEvent } from '../../src/domain/events.js';
import { ORDER_REPLY_METADATA, withOrderReplies } from '../../src/domain/order-replies.js';
import { parseEventSinks } from '../../src/domain/sinks.js';

const order = {
  orderId: 'ord_1',
  customerId: 'buyer_1',
  amount: 2350,
  currency: 'EUR',
  token: 'tok_test_4242',
};

/** A message body read and validated, as the consumer does (between the two it authenticates). */
function read(body: string | Buffer, transportType?: string) {
  const json = parseBody(body);
  return json.ok ? parseCommand(json.json, transportType) : json;
}

describe('broker commands', () => {
  it('takes the HTTP body plus tenant and type, with the API defaults', () => {
    const parsed = read(
      JSON.stringify({
        type: 'payment.create',
        tenantId: 'default',
        orderId: 'ord_1',
        customerId: 'cus_1',
        amount: 100,
        currency: 'USD',
        method: { type: 'wallet' },
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      command: expect.objectContaining({ type: 'payment.create', capture: 'automatic', amount: 100 }),
    });
  });

  it('takes the food-ordering event with its type from the transport, and ignores its other fields', () => {
    const parsed = read(Buffer.from(JSON.stringify({ ...order, buyerName: 'Ann' })), 'OrderStockConfirmed');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.command.type !== 'OrderStockConfirmed') throw new Error('not parsed');
    expect(orderPaymentRequest(parsed.command)).toEqual({
      orderId: 'ord_1',
      customerId: 'buyer_1',
      amount: 2350,
      currency: 'EUR',
      method: { type: 'card', token: 'tok_test_4242' },
      capture: 'automatic',
      metadata: ORDER_REPLY_METADATA,
    });
  });

  it.each([
    ['not JSON', '{', undefined, /^invalid JSON/],
    [
      'a key given twice',
      '{"type":"OrderStockConfirmed","orderId":"a","orderId":"b"}',
      undefined,
      /^invalid JSON.*more than once/,
    ],
    [
      'a body over 64 KiB',
      JSON.stringify({ ...order, pad: 'x'.repeat(64 * 1024) }),
      'OrderStockConfirmed',
      /^too large: \d+ bytes/,
    ],
    [
      'a reserved metadata key (only Paysaga sets paysaga.reply)',
      JSON.stringify({
        type: 'payment.create',
        tenantId: 't',
        orderId: 'o',
        customerId: 'c',
        amount: 1,
        currency: 'USD',
        method: { type: 'wallet' },
        metadata: { 'paysaga.reply': 'OrderPayment' },
      }),
      undefined,
      /^metadata\.paysaga\.reply: keys starting with "paysaga\." are reserved/,
    ],
    [
      'a metadata value over 500 characters',
      JSON.stringify({
        type: 'payment.create',
        tenantId: 't',
        orderId: 'o',
        customerId: 'c',
        amount: 1,
        currency: 'USD',
        method: { type: 'wallet' },
        metadata: { note: 'é'.repeat(501) },
      }),
      undefined,
      /^metadata\.note: /,
    ],
    ['no type anywhere', JSON.stringify(order), undefined, /^type: /],
    ['an unknown type', JSON.stringify(order), 'OrderShipped', /^type: /],
    ['a float amount', JSON.stringify({ ...order, amount: 1.5 }), 'OrderStockConfirmed', /^amount: /],
    [
      'a refund without its idempotency key',
      JSON.stringify({ type: 'refund.create', tenantId: 't', paymentId: 'pay_1' }),
      undefined,
      /^idempotencyKey: /,
    ],
    [
      'an unknown field in payment.create',
      JSON.stringify({
        type: 'payment.create',
        tenantId: 't',
        orderId: 'o',
        customerId: 'c',
        amount: 1,
        currency: 'USD',
        method: { type: 'wallet' },
        extra: 1,
      }),
      undefined,
      /extra/,
    ],
  ])('refuses %s with a reason', (_name, body, transportType, reason) => {
    const parsed = read(body, transportType);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

describe('food-ordering replies', () => {
  const event = (type: string, data: Record<string, unknown>) =>
    cloudEvent({
      workflowId: 'payment:default:ord_1',
      seq: 2,
      type,
      subject: 'payments/pay_1',
      tenantId: 'default',
      time: '2026-11-24T00:00:00.000Z',
      data,
    });
  const fromOrder = { id: 'pay_1', orderId: 'ord_1', metadata: { ...ORDER_REPLY_METADATA } };

  it('follows a terminal event of a payment started by OrderStockConfirmed, with a derived id', () => {
    const succeeded = event('payment.succeeded', fromOrder);
    const failed = event('payment.failed', { ...fromOrder, failureCode: 'insufficient_funds' });
    const out = withOrderReplies([succeeded, failed]);
    expect(out.map((e) => e.type)).toEqual([
      'payment.succeeded',
      'OrderPaymentSucceeded',
      'payment.failed',
      'OrderPaymentFailed',
    ]);
    expect(out[1]).toMatchObject({
      id: `${succeeded.id}:reply`,
      subject: 'payments/pay_1',
      data: { orderId: 'ord_1', paymentId: 'pay_1' },
    });
    expect(out[3]!.data).toEqual({ orderId: 'ord_1', paymentId: 'pay_1', failureCode: 'insufficient_funds' });
  });

  it('adds nothing for other payments or non-terminal events', () => {
    const list = [
      event('payment.succeeded', { id: 'pay_2', orderId: 'o' }),
      event('payment.created', fromOrder),
    ];
    expect(withOrderReplies(list)).toEqual(list);
  });
});

describe('EVENT_SINKS', () => {
  it('always keeps the outbox, and refuses unknown sinks', () => {
    expect(parseEventSinks('kafka, AMQP')).toEqual(['outbox', 'kafka', 'amqp']);
    expect(parseEventSinks('')).toEqual(['outbox']);
    expect(() => parseEventSinks('outbox,sqs')).toThrow(/unknown sink "sqs"/);
  });
});

describe('Kafka offsets of commands settled out of order', () => {
  it('commits a partition only up to the last message before which all are settled', () => {
    const commits = new CommitTracker<string>();
    const [a1, a2, a3] = ['a1', 'a2', 'a3'].map((m) => commits.add(0, m));
    const b1 = commits.add(1, 'b1');
    expect(a2!()).toBeUndefined(); // a1 still running: committing a2 would skip it after a crash
    expect(b1()).toBe('b1'); // another partition is independent
    expect(a1!()).toBe('a2'); // a1 and a2 done: commit a2 (covers a1)
    expect(a3!()).toBe('a3');
  });
});
