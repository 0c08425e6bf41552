/**
 * Outgoing webhooks over real HTTP: a receiver in this process, the worker's endpoint workflows
 * posting to it, and the README's verification recipe checking every delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_ENDPOINTS_PER_TENANT } from '../../src/webhooks/domain.js';
import { eventually } from '../support/brokers.js';
import { testDatabase } from '../support/db.js';
import { relayPassed } from '../support/relay.js';
import {
  api,
  apiRaw,
  expectLedgerClean,
  topUp,
  uid,
  type ApiResponse,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointBody,
} from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';
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
async function register(receiver: Receiver, events?: WebhookEndpointBody['events']) {
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
  return res.body as { id: string; orderId: string };
}

async function deliveries(endpointId: string, query = '') {
  return api('GET', `/v1/webhook-endpoints/${endpointId}/deliveries${query}`);
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
      expect(Date.parse(rotated.body.previousSecretExpiresAt!)).toBeGreaterThan(Date.now());
      const customerId = uid('cus');
      await topUp(customerId, 10_000);
      const deliveryOf = async () => {
        const paid = await walletPayment(customerId);
        await eventually(() => rotating.of([`payments/${paid.id}`]).length === 1, 30_000, 'the delivery');
        return rotating.of([`payments/${paid.id}`])[0]!;
      };
      const first = await deliveryOf();
      expect(verify(endpoint.secret, first.signature, first.body)).toBe(true);
      expect(verify(rotated.body.secret!, first.signature, first.body)).toBe(true);

      // One delivery after another until one carries the new secret alone: each signed while the
      // overlap lasted carries both, and the first without the old one is signed once it ended.
      const overlapEnds = Date.parse(rotated.body.previousSecretExpiresAt!) / 1000;
      const signedAt = (delivery: { signature?: string | undefined }) =>
        Number(/t=(\d+)/.exec(delivery.signature!)![1]);
      let last = first;
      await eventually(
        async () => {
          last = await deliveryOf();
          expect(verify(rotated.body.secret!, last.signature, last.body)).toBe(true);
          const oldSecretSigns = verify(endpoint.secret, last.signature, last.body);
          if (oldSecretSigns) expect(signedAt(last)).toBeLessThanOrEqual(overlapEnds);
          return !oldSecretSigns;
        },
        30_000,
        'a delivery signed by the new secret alone',
      );
      expect(signedAt(last)).toBeGreaterThanOrEqual(Math.floor(overlapEnds));
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
      let delivery: WebhookDelivery | undefined;
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
      const wait = Date.parse(delivery!.attempts[0]!.nextRetryAt!) - Date.now();
      expect(wait).toBeGreaterThan(30_000);
      expect(wait).toBeLessThanOrEqual(60_000);

      flaky.status = () => 204;
      const retried = await api(
        'POST',
        `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery!.id}/retry`,
      );
      expect(retried.status).toBe(200);
      expect(retried.body.status).toBe('delivered');
      expect(retried.body.attempts.map((a) => [a.trigger, a.statusCode])).toEqual([
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
      // Nothing will send its deliveries any more: none stays pending.
      const listed = (await deliveries(endpoint.id)).body.data;
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.map((d) => d.status)).toEqual(listed.map(() => 'failed'));
      const before = gone.received.length;
      const later = await walletPayment(customerId);
      // The relay has fanned this payment's events out to the endpoints still enabled: not to this one.
      const db = testDatabase();
      try {
        await eventually(
          () => relayPassed(db, 'webhooks', [`payments/${later.id}`]),
          30_000,
          'the relay past the payment',
        );
      } finally {
        await db.close();
      }
      expect((await deliveries(endpoint.id)).body.data).toHaveLength(listed.length);
      expect(gone.received.length).toBe(before);
    } finally {
      await gone.stop();
    }
  });

  it('refuses a bad URL or event type with a 400 and an unknown endpoint with a 404', async () => {
    expect((await api('POST', '/v1/webhook-endpoints', { url: 'ftp://example.com/x' })).status).toBe(400);
    expect(
      (await apiRaw('POST', '/v1/webhook-endpoints', { url: receiver.url, events: ['payment.nope'] })).status,
    ).toBe(400);
    const missing = await api('GET', '/v1/webhook-endpoints/we_000000000000000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('webhook_endpoint_not_found');
  });

  it('refuses internal addresses the allowance does not cover, in every spelling, and stores nothing', async () => {
    // This stack allows 127.0.0.1 alone (its receivers); the rest of loopback is as internal as 10/8.
    const postgresPort = new URL(inject('databaseUrl')).port;
    const temporalPort = inject('temporalAddress').split(':').at(-1);
    const before = (await api('GET', '/v1/webhook-endpoints')).body.data.length;
    for (const url of [
      'http://10.0.0.1/hooks',
      'http://192.168.1.1/hooks',
      'http://169.254.169.254/latest/meta-data/',
      'http://0.0.0.0/hooks',
      `http://0.0.0.0:${postgresPort}/`,
      'http://0/hooks',
      `http://127.0.0.2:${temporalPort}/`,
      'http://2130706434/hooks',
      'http://0x7f000002/hooks',
      'http://127.2/hooks',
      'http://0177.0.0.2/hooks',
      'http://100.100.100.200/hooks',
      'http://224.0.0.1/hooks',
      'http://nowhere.invalid/hooks',
    ]) {
      const res = await api('POST', '/v1/webhook-endpoints', { url });
      expect(res.status, url).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.code, url).toBe('url_not_allowed');
    }
    // IPv6 literals, IPv4-mapped ones included, are not accepted as URLs at all.
    for (const url of ['http://[::ffff:127.0.0.1]/hooks', 'http://[::1]/hooks', 'http://[fd00:ec2::254]/'])
      expect((await api('POST', '/v1/webhook-endpoints', { url })).status, url).toBe(400);
    expect((await api('GET', '/v1/webhook-endpoints')).body.data.length).toBe(before);
  });

  it('shows generic reasons, never an address or a port, and refuses at send time what the allowance does not cover', async () => {
    const closed = new Receiver();
    await closed.start();
    const closedPort = closed.port;
    await closed.stop(); // its URL now refuses connections
    const endpoint = await register(closed, ['payment.succeeded']);
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const paid = await walletPayment(customerId);
    let listed: WebhookDelivery | undefined;
    await eventually(
      async () => {
        listed = (await deliveries(endpoint.id)).body.data.find((d) => d.eventId.includes(paid.orderId));
        return listed?.attempts.length === 1;
      },
      30_000,
      'the refused attempt recorded',
    );
    expect(listed!.attempts[0]).toMatchObject({ statusCode: null, error: 'connection refused' });

    // The endpoint's address moves outside the allowance (as a name rebinding to another
    // address would): a receiver there, on every interface, is never connected to.
    const inside = new Receiver();
    await inside.start('0.0.0.0');
    try {
      const db = testDatabase();
      try {
        await db.pool.query('UPDATE webhook_endpoints SET url = $1 WHERE id = $2', [
          `http://127.0.0.2:${inside.port}/hooks`,
          endpoint.id,
        ]);
      } finally {
        await db.close();
      }
      const retried = await api(
        'POST',
        `/v1/webhook-endpoints/${endpoint.id}/deliveries/${listed!.id}/retry`,
      );
      expect(retried.status).toBe(200);
      expect(retried.body.attempts.at(-1)).toMatchObject({
        trigger: 'manual',
        statusCode: null,
        error: 'address not allowed',
      });
      expect(inside.received).toHaveLength(0);
      const shown = JSON.stringify([retried.body, (await deliveries(endpoint.id)).body]);
      for (const raw of ['127.0.0', 'ECONN', `:${closedPort}`, `:${inside.port}`])
        expect(shown).not.toContain(raw);
    } finally {
      await inside.stop();
    }
  });

  it('pages deliveries by status and order: the one holding the line comes first', async () => {
    const stuck = new Receiver();
    await stuck.start();
    try {
      stuck.status = () => 503;
      const endpoint = await register(stuck, ['payment.succeeded']);
      const customerId = uid('cus');
      await topUp(customerId, 1000);
      const orders: string[] = [];
      for (let i = 0; i < 3; i++) orders.push((await walletPayment(customerId)).orderId);
      const order = (d: WebhookDelivery) => orders.findIndex((o) => d.eventId.includes(o));
      await eventually(
        async () => (await deliveries(endpoint.id)).body.data.filter((d) => order(d) >= 0).length === 3,
        30_000,
        'three deliveries',
      );
      await eventually(() => stuck.received.length === 1, 30_000, 'the first attempt');

      // The first is retried a minute later; the two after it wait behind it.
      const blocking = await deliveries(endpoint.id, '?order=oldest&status=pending&limit=1');
      expect(blocking.status).toBe(200);
      expect(blocking.body.data.map(order)).toEqual([0]);
      await eventually(
        async () =>
          (await deliveries(endpoint.id, '?order=oldest&status=pending&limit=1')).body.data[0]!.attempts
            .length === 1,
        10_000,
        'the attempt recorded',
      );
      const next = await deliveries(
        endpoint.id,
        `?order=oldest&status=pending&limit=1&cursor=${blocking.body.nextCursor}`,
      );
      expect(next.body.data.map(order)).toEqual([1]);
      expect(next.body.data[0]!.attempts).toEqual([]);

      const newest = await deliveries(endpoint.id, '?limit=2');
      expect(newest.body.data.map(order)).toEqual([2, 1]);
      const rest = await deliveries(endpoint.id, `?limit=2&cursor=${newest.body.nextCursor}`);
      expect(rest.body.data.map(order)).toEqual([0]);
      expect(rest.body.nextCursor).toBeNull();
      expect((await deliveries(endpoint.id, '?status=delivered')).body.data).toEqual([]);

      const bad = await deliveries(endpoint.id, '?cursor=abc');
      expect(bad.status).toBe(400);
      expect((await deliveries(endpoint.id, '?limit=101')).status).toBe(400);
    } finally {
      await stuck.stop();
    }
  });

  it(`caps a tenant at ${MAX_ENDPOINTS_PER_TENANT} endpoints, also when they are created at once`, async () => {
    const key = TENANT_KEYS.other;
    const created: string[] = [];
    try {
      const existing = (await api('GET', '/v1/webhook-endpoints', undefined, { key })).body.data.length;
      const attempts = await Promise.all(
        Array.from({ length: MAX_ENDPOINTS_PER_TENANT + 4 - existing }, () =>
          api('POST', '/v1/webhook-endpoints', { url: receiver.url }, { key }),
        ),
      );
      created.push(...attempts.filter((res) => res.status === 201).map((res) => res.body.id));
      expect(created).toHaveLength(MAX_ENDPOINTS_PER_TENANT - existing);
      const refused = attempts.filter((res) => res.status !== 201);
      expect(refused).toHaveLength(4);
      for (const res of refused) {
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('webhook_endpoint_limit_reached');
      }
      // A deleted endpoint makes room for another.
      await api('DELETE', `/v1/webhook-endpoints/${created.pop()}`, undefined, { key });
      const again = await api('POST', '/v1/webhook-endpoints', { url: receiver.url }, { key });
      expect(again.status).toBe(201);
      created.push(again.body.id);
    } finally {
      for (const id of created) await api('DELETE', `/v1/webhook-endpoints/${id}`, undefined, { key });
    }
  });

  it('two rotations at once: both new secrets sign, neither is lost', async () => {
    const rotating = new Receiver();
    await rotating.start();
    const db = testDatabase();
    try {
      const endpoint = await register(rotating, ['payment.succeeded']);
      // Both rotations reach the endpoint's row while this transaction holds it, then go in turn.
      const holder = await db.pool.connect();
      let rotations: Promise<ApiResponse<WebhookEndpoint>>[];
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [endpoint.id]);
        rotations = [1, 2].map(() =>
          api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { overlapSeconds: 600 }),
        );
        await eventually(
          async () =>
            (
              await db.pool.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM pg_stat_activity
                  WHERE wait_event_type = 'Lock' AND query ILIKE 'update "webhook_endpoints"%'`,
              )
            ).rows[0]!.n === 2,
          10_000,
          'both rotations waiting for the row',
        );
      } finally {
        await holder.query('COMMIT');
        holder.release();
      }
      const [first, second] = await Promise.all(rotations);
      expect([first!.status, second!.status]).toEqual([200, 200]);

      const customerId = uid('cus');
      await topUp(customerId, 1000);
      const paid = await walletPayment(customerId);
      await eventually(() => rotating.of([`payments/${paid.id}`]).length === 1, 30_000, 'the delivery');
      const delivery = rotating.of([`payments/${paid.id}`])[0]!;
      expect(verify(first!.body.secret!, delivery.signature, delivery.body)).toBe(true);
      expect(verify(second!.body.secret!, delivery.signature, delivery.body)).toBe(true);
      expect(verify(endpoint.secret, delivery.signature, delivery.body)).toBe(false);
    } finally {
      await db.close();
      await rotating.stop();
    }
  });
});
