import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/domain/events.js';
import { compileMapping, toJson } from '../../src/profiles/mapping.js';
import { compileProfile, interpret, render, takes, type Outbound } from '../../src/profiles/profile.js';
import { loadProfiles, ProfileRegistry, routes } from '../../src/profiles/registry.js';

const registry = loadProfiles([
  { ref: 'transit', tenantId: 'default' },
  { ref: 'food-ordering', tenantId: 'default' },
  { ref: 'ride-hailing', tenantId: 'default' },
]);
const inbound = (profile: string, name: string) =>
  registry.profile('default', profile)!.inbound.find((binding) => binding.binding.name === name)!;
const outbound = (profile: string, name: string) =>
  registry.profile('default', profile)!.outbound.find((binding) => binding.binding.name === name)!;

function event(type: string, data: Record<string, unknown>, tenantid = 'default'): CloudEvent {
  return {
    specversion: '1.0',
    id: 'evt_1',
    source: 'paysaga',
    type,
    subject: 'payments/pay_0123456789abcdef01234567',
    time: '2026-12-05T10:00:00.000Z',
    datacontenttype: 'application/json',
    tenantid,
    data,
  };
}

const ticketPayment = {
  id: 'pay_0123456789abcdef01234567',
  reference: 'PAY-20261205-0a1b2c3d',
  orderId: 'ticket-1001',
  customerId: '42',
  amount: 1250,
  currency: 'NAD',
  metadata: { ticketId: '1001', userId: '42', 'paysaga.profile': 'transit' },
  attempts: [],
};

describe('mappings', () => {
  it('convert decimal amounts to minor units and back without floats', async () => {
    const mapping = compileMapping(
      '{ "n": $minor(0.1 + 0.2 = 0.3 ? "1" : "0.30"), "a": $minor(amount), "s": $minor("25.50"), "d": $decimal(1250), "j": $decimal(5, "JPY"), "k": $decimalString(1, "KWD") }',
      'test',
      { currency: 'EUR' },
    );
    expect(toJson(await mapping.evaluate({ amount: 12.5 }))).toBe(
      '{"n":30,"a":1250,"s":2550,"d":12.50,"j":5,"k":"0.001"}',
    );
  });

  it('refuse amounts with more decimals than the currency has, and say which mapping failed', async () => {
    const mapping = compileMapping('$minor(amount)', 'inbound[0].map', { currency: 'EUR' });
    await expect(mapping.evaluate({ amount: 12.345 })).rejects.toThrow(
      /inbound\[0\].map: \$minor: "12.345" has more decimal places than the 2 of EUR/,
    );
    await expect(mapping.evaluate({ amount: 1e21 })).rejects.toThrow(/not a decimal amount/);
  });

  it('stop a runaway expression instead of holding the caller', async () => {
    const mapping = compileMapping('( $f := function($x) { $f($x + 1) }; $f(0) )', 'runaway');
    await expect(mapping.evaluate({})).rejects.toThrow(/runaway/);
  });

  it('have no way out of their input: an unknown function is an error, not a lookup', async () => {
    const mapping = compileMapping('$readFile("/etc/passwd")', 'escape');
    await expect(mapping.evaluate({})).rejects.toThrow(/escape/);
  });
});

describe('profile files', () => {
  it('are validated with the reason and where', () => {
    expect(() => compileProfile({ profile: 'x', version: 2 }, 'default', 'x.yaml')).toThrow(/version/);
    expect(() =>
      compileProfile(
        {
          profile: 'x',
          version: 1,
          inbound: [
            { name: 'a', source: { kafka: { topic: 't' } }, command: 'payment.create', map: '{ "a": ' },
          ],
        },
        'default',
        'x.yaml',
      ),
    ).toThrow(/inbound\[0\]\.map/);
    expect(() => loadProfiles([{ ref: 'no-such-profile', tenantId: 'default' }])).toThrow(
      /no profile "no-such-profile"/,
    );
  });

  it('may not read one source twice', () => {
    expect(() =>
      loadProfiles([
        { ref: 'transit', tenantId: 'default' },
        { ref: 'profiles/transit.yaml', tenantId: 'other' },
      ]),
    ).toThrow(/both read kafka:ticket.purchase.requests/);
  });
});

describe('transit', () => {
  it("maps a ticket purchase to a wallet payment in NAD, keyed by the request's id", async () => {
    const result = await interpret(inbound('transit', 'ticket-purchase'), {
      ticketId: 1001,
      userId: 42,
      amount: 12.5,
      paymentMethod: 'WALLET',
      requestId: 'req-1',
    });
    expect(result).toEqual({
      ok: true,
      command: 'payment.create',
      idempotencyKey: 'req-1',
      body: {
        orderId: 'ticket-1001',
        customerId: '42',
        amount: 1250,
        currency: 'NAD',
        method: { type: 'wallet' },
        description: 'Ticket 1001',
        metadata: { ticketId: '1001', userId: '42' },
      },
    });
  });

  it('refuses a method it cannot pay with, with the reason', async () => {
    const result = await interpret(inbound('transit', 'ticket-purchase'), {
      ticketId: 1,
      userId: 2,
      amount: 1,
      paymentMethod: 'CASH',
      requestId: 'r',
    });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/CASH is not supported/) });
  });

  it('answers payment.completed with numeric ids, a decimal amount and COMPLETED', async () => {
    const binding = outbound('transit', 'payment-completed');
    const succeeded = event('payment.succeeded', { ...ticketPayment, status: 'succeeded' });
    expect(await takes(binding, succeeded)).toBe(true);
    const message = await render(binding, succeeded, {});
    expect(message.target).toEqual({ kafka: { topic: 'payment.completed', key: 'data.metadata.ticketId' } });
    expect(message.key).toBe('1001');
    expect(message.body).toBe(
      '{"paymentReference":"PAY-20261205-0a1b2c3d","ticketId":1001,"userId":42,"amount":12.50,"status":"COMPLETED","timestamp":"2026-12-05T10:00:00.000Z"}',
    );
  });

  it('answers a wallet shortfall with payment.failed FAILED, once', async () => {
    const binding = outbound('transit', 'payment-failed');
    const declined = {
      ...ticketPayment,
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
      failureMessage: 'wallet balance too low',
    };
    expect(await takes(binding, event('payment.attempt_failed', declined))).toBe(true);
    // The window closing later is the same failure, already reported.
    expect(await takes(binding, event('payment.failed', { ...declined, status: 'failed' }))).toBe(false);
    expect(
      await takes(binding, event('payment.failed', { ...ticketPayment, failureCode: 'processing_error' })),
    ).toBe(true);
    const body = JSON.parse(
      (await render(binding, event('payment.attempt_failed', declined), {})).body,
    ) as object;
    expect(body).toMatchObject({
      paymentReference: 'PAY-20261205-0a1b2c3d',
      ticketId: 1001,
      status: 'FAILED',
      failureCode: 'INSUFFICIENT_FUNDS',
    });
  });

  it("maps only its own payments, and only its tenant's events", async () => {
    const binding = outbound('transit', 'payment-completed');
    const food = { ...ticketPayment, metadata: { 'paysaga.profile': 'food-ordering' } };
    expect(await takes(binding, event('payment.succeeded', food))).toBe(false);
    expect(await takes(binding, event('payment.succeeded', ticketPayment, 'another-tenant'))).toBe(false);
    expect(await takes(binding, event('payment.refunded', ticketPayment))).toBe(false);
  });

  it('gives wallet.updated the new balance the relay looked up', async () => {
    const binding = outbound('transit', 'wallet-updated');
    const updated = event('wallet.updated', {
      customerId: '42',
      currency: 'NAD',
      amount: 2000,
      reason: 'top_up',
    });
    expect(await takes(binding, updated)).toBe(true);
    const body = (await render(binding, updated, { walletBalance: 2300 })).body;
    expect(body).toBe(
      '{"userId":42,"balance":23.00,"amount":20.00,"currency":"NAD","reason":"TOP_UP","timestamp":"2026-12-05T10:00:00.000Z"}',
    );
  });
});

const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

describe('food ordering', () => {
  const stockConfirmed = {
    eventId: '7f3c1a2e-0000-4000-8000-000000000001',
    orderId: 12345,
    buyerId: 'buyer-9',
    totalAmount: 49.99,
    currency: 'EUR',
    paymentMethod: { type: 'CARD', token: 'tok_test_4242' },
    occurredAt: '2026-12-05T09:59:00Z',
  };

  it('maps OrderStockConfirmed to one card payment per order, single attempt, keyed by eventId', async () => {
    const binding = inbound('food-ordering', 'stock-confirmed');
    expect(binding.binding).toMatchObject({ onDuplicate: 'republish', attempts: 'single' });
    expect(await interpret(binding, stockConfirmed)).toEqual({
      ok: true,
      command: 'payment.create',
      idempotencyKey: stockConfirmed.eventId,
      body: {
        orderId: 'order-12345',
        customerId: 'buyer-9',
        amount: 4999,
        currency: 'EUR',
        method: { type: 'card', token: 'tok_test_4242' },
        metadata: { orderId: '12345', eventId: stockConfirmed.eventId },
      },
    });
  });

  it('answers payment.succeeded with a numeric payment id and payment.failed with its code', async () => {
    const payment = {
      ...ticketPayment,
      currency: 'EUR',
      amount: 4999,
      metadata: { orderId: '12345', 'paysaga.profile': 'food-ordering' },
      attempts: [{ number: 1, gatewayReference: 'auth_1' }],
    };
    const succeeded = await render(
      outbound('food-ordering', 'payment-succeeded'),
      event('payment.succeeded', payment),
      { paymentNumber: 7 },
    );
    expect(succeeded.target).toEqual({
      amqp: { exchange: 'foodies.events', exchangeType: 'topic', routingKey: 'payment.succeeded' },
    });
    expect(succeeded.body).toMatch(
      /^\{"eventId":"[0-9a-f-]{36}","orderId":12345,"paymentId":7,"transactionId":"auth_1","amount":49.99,"currency":"EUR","processedAt":"2026-12-05T10:00:00.000Z"\}$/,
    );
    // The event's id as a UUID: the same for the same event, another for another.
    const again = await render(
      outbound('food-ordering', 'payment-succeeded'),
      event('payment.succeeded', payment),
      { paymentNumber: 7 },
    );
    const other = await render(
      outbound('food-ordering', 'payment-succeeded'),
      { ...event('payment.succeeded', payment), id: 'evt_2' },
      { paymentNumber: 7 },
    );
    expect(JSON.parse(again.body).eventId).toEqual(UUID);
    expect(again.body).toBe(succeeded.body);
    expect(JSON.parse(other.body).eventId).not.toBe(JSON.parse(succeeded.body).eventId);
    const failedBinding = outbound('food-ordering', 'payment-failed');
    for (const [code, expected] of [
      ['insufficient_funds', 'INSUFFICIENT_FUNDS'],
      ['card_declined', 'CARD_DECLINED'],
      ['expired_card', 'CARD_EXPIRED'],
      ['invalid_card', 'INVALID_CARD'],
      ['fraud_suspected', 'FRAUD_SUSPECTED'],
      ['processing_error', 'GATEWAY_ERROR'],
      ['expired', 'TIMEOUT'],
      [undefined, 'UNKNOWN'],
    ] as const) {
      const failed = event('payment.failed', {
        ...payment,
        failureCode: code,
        failureMessage: code && `declined: ${code}`,
      });
      const body = JSON.parse((await render(failedBinding, failed, {})).body) as Record<string, unknown>;
      expect(body).toEqual({
        eventId: UUID,
        orderId: 12345,
        failureReason: code ? `declined: ${code}` : 'the payment failed',
        failureCode: expected,
        occurredAt: '2026-12-05T10:00:00.000Z',
      });
    }
  });
});

describe('ride hailing', () => {
  it("maps a ride's fare to a checkout session", async () => {
    const result = await interpret(inbound('ride-hailing', 'ride-fare'), {
      rideId: 'ride123',
      userId: 'user456',
      fare: '25.50',
    });
    expect(result).toMatchObject({
      ok: true,
      command: 'checkout.create',
      idempotencyKey: 'ride123',
      body: { orderId: 'ride123', customerId: 'user456', amount: 2550, currency: 'USD' },
    });
  });

  it("pushes the page's URL to the rider's stream as payment_url", async () => {
    const binding: Outbound = outbound('ride-hailing', 'payment-url');
    const created = event('checkout_session.created', {
      id: 'cs_1',
      orderId: 'ride123',
      url: 'http://127.0.0.1:3000/checkout/cs_1',
    });
    expect(await takes(binding, created)).toBe(true);
    expect((await render(binding, created, {})).body).toBe(
      '{"type":"payment_url","rideId":"ride123","paymentUrl":"http://127.0.0.1:3000/checkout/cs_1","status":"pending"}',
    );
  });
});

describe('what a profile may not do', () => {
  const outboundTo = (target: unknown) => ({
    profile: 'loop',
    version: 1,
    outbound: [{ name: 'out', events: ['payment.succeeded'], target, map: '{}' }],
  });
  const load = (...files: unknown[]) =>
    new ProfileRegistry(files.map((file, i) => compileProfile(file, `tenant-${i}`, 'test')));

  it("reads or publishes to Paysaga's own topics and exchanges", () => {
    expect(() => load(outboundTo({ kafka: { topic: 'paysaga.commands' } }))).toThrow(
      /paysaga.commands is Paysaga's own/,
    );
    expect(() => load(outboundTo({ amqp: { exchange: 'paysaga.events', routingKey: 'x' } }))).toThrow(
      /Paysaga's own/,
    );
    expect(() =>
      load({
        profile: 'spy',
        version: 1,
        inbound: [
          {
            name: 'all-events',
            source: { amqp: { queue: 'spy', exchange: 'paysaga.events', routingKeys: ['#'] } },
            command: 'payment.create',
            map: '{}',
          },
        ],
      }),
    ).toThrow(/paysaga.events is Paysaga's own/);
  });

  it("publishes where a profile's inbound binding reads (another tenant's commands)", () => {
    const reader = {
      profile: 'reader',
      version: 1,
      inbound: [
        { name: 'in', source: { kafka: { topic: 'orders.in' } }, command: 'payment.create', map: '{}' },
        {
          name: 'q',
          source: { amqp: { queue: 'q1', exchange: 'shop', routingKeys: ['order.*'] } },
          command: 'payment.create',
          map: '{}',
        },
      ],
    };
    expect(() => load(reader, outboundTo({ kafka: { topic: 'orders.in' } }))).toThrow(
      /which profile reader reads/,
    );
    expect(() => load(reader, outboundTo({ amqp: { exchange: 'shop', routingKey: 'order.paid' } }))).toThrow(
      /which profile reader reads/,
    );
    expect(() =>
      load(reader, outboundTo({ amqp: { exchange: 'shop', routingKey: 'payment.paid' } })),
    ).not.toThrow();
  });

  it('binds a queue to a topic exchange with no routing key (it would receive nothing)', () => {
    expect(() =>
      compileProfile(
        {
          profile: 'deaf',
          version: 1,
          inbound: [
            {
              name: 'q',
              source: { amqp: { queue: 'q', exchange: 'x' } },
              command: 'payment.create',
              map: '{}',
            },
          ],
        },
        't',
        'test',
      ),
    ).toThrow(/at least one routing key/);
  });

  it('matches topic patterns as RabbitMQ does', () => {
    expect(routes('order.*', 'order.paid')).toBe(true);
    expect(routes('order.*', 'order.paid.twice')).toBe(false);
    expect(routes('order.#', 'order')).toBe(true);
    expect(routes('#.paid', 'order.x.paid')).toBe(true);
    expect(routes('order.stock-confirmed', 'order.stock-confirmed')).toBe(true);
    expect(routes('order.stock-confirmed', 'order.paid')).toBe(false);
  });
});
