/**
 * Outgoing webhooks over real HTTP: a receiver in this process, the worker's endpoint workflows
 * posting to it, and the README's verification recipe checking every delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/brokers.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';
import { Receiver } from '../support/webhook-receiver.js';

/** The README's recipe: the signed timestamp within 5 minutes, and a v1 that matches one secret. */
function verify(
  secret: string,
  header: string | undefined,
  body: string,
  nowSec = Date.now() / 1000,
): boolean {
  if (!header) return false;
  const parts = header.split(',').map((part) => part.split('='));
  const t = Number(parts.find(([key]) => key === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return parts
    .filter(([key]) => key === 'v1')
    .some(([, hex]) => {
      const given = Buffer.from(hex ?? '', 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

const endpoints: string[] = [];
async function register(receiver: Receiver, events?: string[]) {
  const res = await api('POST', '/v1/webhook-endpoints', {
    url: receiver.url,
    ...(events ? { events } : {}),
    description: 'test receiver',
  });
  expect(res.status).toBe(201);
  endpoints.push(res.body.id);
  return res.body as { id: string; secret: string };
}

async function walletPayment(customerId: string, amount = 100) {
  const res = await api('POST', '/v1/payments', {
    orderId: uid('ord'),
    customerId,
    amount,
    currency: 'USD',
    method: { type: 'wallet' },
  });
  expect(res.body.status).toBe('succeeded');
  return res.body as { id: string };
}

describe('webhook endpoints', () => {
  const receiver = new Receiver();
  beforeAll(() => receiver.start());
  afterAll(async () => {
    for (const id of endpoints) await api('DELETE', `/v1/webhook-endpoints/${id}`);
    await receiver.stop();
    await expectLedgerClean();
  });

  it('registers an endpoint, shows its secret once, and delivers signed events the recipe verifies', async () => {
    const endpoint = await register(receiver);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{32}$/);
    const read = await api('GET', `/v1/webhook-endpoints/${endpoint.id}`);
    expect(read.body).toMatchObject({ id: endpoint.id, url: receiver.url, status: 'enabled', events: null });
    expect(read.body.secret).toBeUndefined();
    expect((await api('GET', '/v1/webhook-endpoints')).body.data.map((e: { id: string }) => e.id)).toContain(
      endpoint.id,
    );

    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const paid = await walletPayment(customerId);
    const subjects = [`payments/${paid.id}`];
    await eventually(() => receiver.of(subjects).length >= 2, 30_000, 'two deliveries');
    const [created, succeeded] = receiver.of(subjects);
    expect([created!.event.type, succeeded!.event.type]).toEqual(['payment.created', 'payment.succeeded']);
    expect(succeeded!.eventId).toBe(succeeded!.event.id);
    for (const delivery of [created!, succeeded!])
      expect(verify(endpoint.secret, delivery.signature, delivery.body)).toBe(true);

    // Forged (another secret), tampered, re-timed (a new t with the old signature) and replayed
    // late (outside the 5-minute window) deliveries all fail.
    const d = succeeded!;
    const t = Number(/t=(\d+)/.exec(d.signature!)![1]);
    expect(verify('whsec_someone_else', d.signature, d.body)).toBe(false);
    expect(verify(endpoint.secret, d.signature, d.body.replace('"succeeded"', '"failed"'))).toBe(false);
    expect(verify(endpoint.secret, d.signature!.replace(`t=${t}`, `t=${t + 1}`), d.body)).toBe(false);
    expect(verify(endpoint.secret, d.signature, d.body, t + 301)).toBe(false);

    // What was sent, with status codes and latency.
    // The attempt is recorded once the receiver has answered.
    let listed: any;
    await eventually(
      async () => {
        const deliveries = (await api('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data;
        listed = deliveries.find((x: { eventId: string }) => x.eventId === d.eventId);
        return listed?.status === 'delivered';
      },
      10_000,
      'the delivery recorded as delivered',
    );
    expect(listed).toMatchObject({
      status: 'delivered',
      eventType: 'payment.succeeded',
      nextAttemptAt: null,
    });
    expect(listed.attempts).toEqual([
      expect.objectContaining({ attempt: 1, trigger: 'workflow', statusCode: 200, error: null }),
    ]);
    expect(listed.attempts[0].latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('50 payments at once: every event delivered exactly once, in order per payment', async () => {
    const burst = new Receiver();
    await burst.start();
    try {
      await register(burst, ['payment.created', 'payment.succeeded']);
      const customerId = uid('cus');
      await topUp(customerId, 10_000);
      const payments = await Promise.all(Array.from({ length: 50 }, () => walletPayment(customerId)));
      const subjects = payments.map((p) => `payments/${p.id}`);
      await eventually(
        () => new Set(burst.of(subjects).map((d) => d.eventId)).size === 100,
        60_000,
        '100 events',
      );
      const got = burst.of(subjects);
      expect(got).toHaveLength(100);
      for (const subject of subjects)
        expect(got.filter((d) => d.event.subject === subject).map((d) => d.event.type)).toEqual([
          'payment.created',
          'payment.succeeded',
        ]);
    } finally {
      await burst.stop();
    }
  });

  it('rotation: during the overlap both secrets sign, after it only the new one', async () => {
    const rotating = new Receiver();
    await rotating.start();
    try {
      const endpoint = await register(rotating, ['payment.succeeded']);
      const rotated = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
        overlapSeconds: 3,
      });
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret).not.toBe(endpoint.secret);
      expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
      const customerId = uid('cus');
      await topUp(customerId, 1000);
      const during = await walletPayment(customerId);
      await eventually(() => rotating.of([`payments/${during.id}`]).length === 1, 30_000, 'the delivery');
      const first = rotating.of([`payments/${during.id}`])[0]!;
      expect(verify(endpoint.secret, first.signature, first.body)).toBe(true);
      expect(verify(rotated.body.secret, first.signature, first.body)).toBe(true);

      await new Promise((resolve) => setTimeout(resolve, 3_500));
      const after = await walletPayment(customerId);
      await eventually(() => rotating.of([`payments/${after.id}`]).length === 1, 30_000, 'the delivery');
      const second = rotating.of([`payments/${after.id}`])[0]!;
      expect(verify(rotated.body.secret, second.signature, second.body)).toBe(true);
      expect(verify(endpoint.secret, second.signature, second.body)).toBe(false);
    } finally {
      await rotating.stop();
    }
  });

  it('a failed attempt is listed with its next retry, and POST .../retry sends it again now', async () => {
    const flaky = new Receiver();
    await flaky.start();
    try {
      flaky.status = () => 500;
      const endpoint = await register(flaky, ['payment.succeeded']);
      const customerId = uid('cus');
      await topUp(customerId, 1000);
      const paid = await walletPayment(customerId);
      await eventually(() => flaky.of([`payments/${paid.id}`]).length === 1, 30_000, 'the first attempt');
      let delivery: { id: string; attempts: { statusCode: number; nextRetryAt: string }[] } | undefined;
      await eventually(
        async () => {
          delivery = (await api('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.data[0];
          return delivery?.attempts.length === 1;
        },
        10_000,
        'the attempt recorded',
      );
      expect(delivery!.attempts[0]).toMatchObject({ statusCode: 500 });
      // The next scheduled attempt is a minute after the first.
      const wait = Date.parse(delivery!.attempts[0]!.nextRetryAt) - Date.now();
      expect(wait).toBeGreaterThan(30_000);
      expect(wait).toBeLessThanOrEqual(60_000);

      flaky.status = () => 204;
      const retried = await api(
        'POST',
        `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery!.id}/retry`,
      );
      expect(retried.status).toBe(200);
      expect(retried.body.status).toBe('delivered');
      expect(
        retried.body.attempts.map((a: { trigger: string; statusCode: number }) => [a.trigger, a.statusCode]),
      ).toEqual([
        ['workflow', 500],
        ['manual', 204],
      ]);
      expect(flaky.of([`payments/${paid.id}`])).toHaveLength(2);
    } finally {
      await flaky.stop();
    }
  });

  it('an endpoint answering 410 Gone is disabled', async () => {
    const gone = new Receiver();
    await gone.start();
    try {
      gone.status = () => 410;
      const endpoint = await register(gone, ['payment.succeeded']);
      const customerId = uid('cus');
      await topUp(customerId, 1000);
      await walletPayment(customerId);
      await eventually(
        async () => (await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.status === 'disabled',
        30_000,
        'the endpoint disabled',
      );
      expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.disabledReason).toMatch(/410/);
      const before = gone.received.length;
      await walletPayment(customerId);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(gone.received.length).toBe(before);
    } finally {
      await gone.stop();
    }
  });

  it('refuses a bad URL or event type with a 400 and an unknown endpoint with a 404', async () => {
    expect((await api('POST', '/v1/webhook-endpoints', { url: 'ftp://example.com/x' })).status).toBe(400);
    expect(
      (await api('POST', '/v1/webhook-endpoints', { url: receiver.url, events: ['payment.nope'] })).status,
    ).toBe(400);
    const missing = await api('GET', '/v1/webhook-endpoints/we_000000000000000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('webhook_endpoint_not_found');
  });
});
