/**
 * The event relay under one tenant's failing endpoints and a broker that hangs: every other tenant
 * and sink keeps receiving. The stack's Temporal server takes at most
 * `history.maximumSignalsPerExecution` signals per run (lowered for the test run,
 * test/setup/global-stack.ts), so a relay that signalled an endpoint's workflow per batch would
 * reach it here within the test.
 */
import { randomUUID } from 'node:crypto';
import { stackTemporal } from '../support/temporal.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeliveries, endpointsToSweep } from '../../src/webhooks/store.js';
import { WebhookSink } from '../../src/webhooks/sink.js';
import { TASK_QUEUE } from '../../src/workflows/contract.js';
import { webhookDeliveries, webhookEndpoints } from '../../src/db/schema.js';
import { count, testDatabase } from '../support/db.js';
import { collectFromRabbitMq, eventually, type Collector } from '../support/brokers.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';
import { Receiver } from '../support/webhook-receiver.js';
import { webhookEndpointWorkflowId } from '../../src/webhooks/domain.js';
import type { CloudEvent } from '../../src/domain/events.js';
import { eq } from '../../src/db/orm.js';

const db = testDatabase();
const amqpUrl = inject('amqpUrl');
const signalLimit = inject('temporalLimits')['history.maximumSignalsPerExecution'];
const temporal = stackTemporal();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

/**
 * Writes one event of `tenantId` straight into the outbox, as a payment's activity would; with
 * `relayed: false`, behind every sink's cursor, as if relayed already (nothing fans it out).
 */
async function writeEvent(tenantId: string, options = { relayed: true }): Promise<string> {
  const id = `evt_test_${randomUUID()}`;
  const customerId = uid('cus');
  await db.pool.query(
    `INSERT INTO events (id, tenant_id, type, source, subject, time, data${options.relayed ? '' : ', txid'})
     VALUES ($1, $2, 'wallet.updated', 'paysaga', $3, now(), $4${options.relayed ? '' : ", '1'::xid8"})`,
    [id, tenantId, `wallets/${customerId}`, JSON.stringify({ customerId, balances: [] })],
  );
  return id;
}

describe('the event relay, one cursor per sink', () => {
  it('fans a batch out to 120 endpoints × 121 events (14,520 deliveries, past one INSERT’s 65,535 parameters)', async () => {
    const tenantId = uid('fanout');
    const rolledBack = new Error('rolled back on purpose');
    let written = 0;
    let fannedOutTo = 0;
    await db.db
      .transaction(async (tx) => {
        const endpointIds = Array.from({ length: 120 }, (_, i) => `we_fanout_${tenantId}_${i}`);
        await tx.insert(webhookEndpoints).values(
          endpointIds.map((id) => ({
            id,
            tenantId,
            url: 'https://merchant.example/hooks',
            secretCiphertext: 'unused',
            status: 'enabled' as const,
          })),
        );
        const list: CloudEvent[] = Array.from({ length: 121 }, (_, i) => ({
          specversion: '1.0',
          id: `evt_fanout_${tenantId}_${i}`,
          source: 'paysaga',
          type: 'wallet.updated',
          subject: `wallets/cus_${i}`,
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
          tenantid: tenantId,
          data: {},
        }));
        fannedOutTo = (await createDeliveries(tx, list)).length;
        written = (
          await tx
            .select({ id: webhookDeliveries.id })
            .from(webhookDeliveries)
            .where(eq(webhookDeliveries.tenantId, tenantId))
        ).length;
        // Nothing of it stays: the endpoints are not real.
        throw rolledBack;
      })
      .catch((error: unknown) => {
        if (error !== rolledBack) throw error;
      });
    expect(fannedOutTo).toBe(120);
    expect(written).toBe(120 * 121);
  });

  it('a wake-up lost between commit and signal is repaired by the sweep', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const otherKey = { key: TENANT_KEYS.other };
    let endpointId: string | undefined;
    try {
      // The webhooks cursor past the transaction ids the event below is given.
      const marker = await writeEvent('other');
      await eventually(
        async () =>
          (
            await db.pool.query(
              `SELECT 1 FROM events e JOIN event_relay_cursors c ON c.sink = 'webhooks'
                WHERE e.id = $1 AND (e.txid, e.seq) <= (c.txid, c.seq)`,
              [marker],
            )
          ).rowCount === 1,
        15_000,
        'the webhooks cursor past a first event',
      );
      const endpoint = await api('POST', '/v1/webhook-endpoints', { url: receiver.url }, otherKey);
      expect(endpoint.status).toBe(201);
      endpointId = endpoint.body.id;
      // A delivery committed, its endpoint idle and never signalled (the relay died in between).
      const eventId = await writeEvent('other', { relayed: false });
      await db.db.insert(webhookDeliveries).values({
        id: `wd_sweep_${randomUUID()}`,
        endpointId,
        tenantId: 'other',
        eventId,
        eventType: 'wallet.updated',
        status: 'pending',
      });
      expect(await endpointsToSweep(db.db)).toContain(endpointId);
      await new WebhookSink(db.db, temporal.client, TASK_QUEUE).sweep();
      await eventually(
        () => receiver.received.some((d) => d.eventId === eventId),
        30_000,
        'the swept delivery',
      );
      expect(await endpointsToSweep(db.db)).not.toContain(endpointId);
    } finally {
      if (endpointId) await api('DELETE', `/v1/webhook-endpoints/${endpointId}`, undefined, otherKey);
      await receiver.stop();
    }
  });

  describe('one tenant’s endpoints failing and Kafka hanging', () => {
    const failing = new Receiver();
    const healthy = new Receiver();
    const endpointIds: string[] = [];
    let defaultEndpoint: string | undefined;
    const otherKey = { key: TENANT_KEYS.other };
    let rabbit: Collector | undefined;

    beforeAll(async () => {
      await Promise.all([failing.start(), healthy.start()]);
      failing.status = () => 500;
      if (amqpUrl) rabbit = await collectFromRabbitMq(amqpUrl);
    });
    afterAll(async () => {
      for (const id of endpointIds) await api('DELETE', `/v1/webhook-endpoints/${id}`, undefined, otherKey);
      if (defaultEndpoint) await api('DELETE', `/v1/webhook-endpoints/${defaultEndpoint}`);
      await Promise.all([failing.stop(), healthy.stop(), rabbit?.close()]);
    });

    it('the other tenants’ webhooks and RabbitMQ keep flowing, and a busy endpoint’s workflow gets no signal per batch', async () => {
      // Tenant `other`: 13 endpoints that answer 500 to everything.
      for (let i = 0; i < 13; i++) {
        const res = await api('POST', '/v1/webhook-endpoints', { url: failing.url }, otherKey);
        expect(res.status).toBe(201);
        endpointIds.push(res.body.id);
      }
      // 80 batches for them, one event each (each relayed before the next is written): 1,040
      // deliveries that keep failing, more batches than a workflow run may take signals.
      const batches = signalLimit + 30;
      for (let i = 0; i < batches; i++) {
        const id = await writeEvent('other');
        await eventually(
          async () =>
            (await count(
              db,
              `SELECT 1 FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = ANY($2)`,
              [id, endpointIds],
            )) === 13,
          15_000,
          `event ${i} fanned out`,
        );
      }
      expect(
        await count(db, `SELECT 1 FROM webhook_deliveries WHERE endpoint_id = ANY($1)`, [endpointIds]),
      ).toBe(13 * batches);

      // Kafka hangs (when the stack runs one); tenant `default` pays, with an endpoint that answers.
      const kafkaPid = inject('brokerPids').kafka;
      if (kafkaPid) process.kill(kafkaPid, 'SIGSTOP');
      try {
        const endpoint = await api('POST', '/v1/webhook-endpoints', { url: healthy.url });
        expect(endpoint.status).toBe(201);
        defaultEndpoint = endpoint.body.id;
        const customerId = uid('cus');
        await topUp(customerId, 2000);
        const paid = (
          await api('POST', '/v1/payments', {
            orderId: uid('ord'),
            customerId,
            amount: 1200,
            currency: 'USD',
            method: { type: 'wallet' },
          })
        ).body;
        expect(paid.status).toBe('succeeded');
        const subjects = [`payments/${paid.id}`];
        await eventually(
          () => healthy.of(subjects).some((d) => d.event.type === 'payment.succeeded'),
          30_000,
          "tenant default's delivery while tenant other's endpoints fail",
        );
        if (rabbit) {
          await eventually(
            () =>
              rabbit!.received.some(
                (r) => r.event.subject === subjects[0] && r.event.type === 'payment.succeeded',
              ),
            30_000,
            'the payment on RabbitMQ while Kafka hangs',
          );
        }
        if (kafkaPid) {
          // What Kafka has not acknowledged, its cursor has not passed, and /readyz shows it waiting.
          const ready = await api('GET', '/readyz');
          expect(ready.body.dependencies.relay.kafka.backlog).toBeGreaterThan(0);
          expect(ready.body.dependencies.relay.webhooks).toMatchObject({ ok: true });
        }
      } finally {
        if (kafkaPid) process.kill(kafkaPid, 'SIGCONT');
      }

      // Each failing endpoint's workflow was woken once, not once per batch.
      for (const id of endpointIds) {
        const history = await temporal.client.workflow
          .getHandle(webhookEndpointWorkflowId(id))
          .fetchHistory();
        const signals = history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes) ?? [];
        expect(signals.length).toBeLessThanOrEqual(2);
      }
    }, 240_000);

    it('an endpoint’s workflow continues as new when Temporal suggests it, and its receiver gets every event, in order', async () => {
      const res = await api('POST', '/v1/webhook-endpoints', { url: healthy.url }, otherKey);
      expect(res.status).toBe(201);
      endpointIds.push(res.body.id);
      // ~7 history events per delivery: 100 pass the lowered suggestion (500 events) of one run.
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) ids.push(await writeEvent('other'));
      await eventually(
        () => ids.every((id) => healthy.received.some((d) => d.eventId === id)),
        90_000,
        'the 100 deliveries',
      );
      const got = healthy.received.map((d) => d.eventId).filter((id) => ids.includes(id));
      expect([...new Set(got)]).toEqual(ids);
      // The suggestion may first come in the last batch's workflow tasks: the run then hands over
      // once that batch is done, which can be after the receiver has the last delivery.
      const continued = async () => {
        const history = await temporal.client.workflow
          .getHandle(webhookEndpointWorkflowId(res.body.id))
          .fetchHistory();
        return Boolean(history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId);
      };
      await eventually(continued, 30_000, 'the current run to have continued an earlier one');
    }, 120_000);
  });
});
