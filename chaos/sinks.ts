/**
 * What the chaos run watches leave Paysaga. The tenant the load uses has one webhook endpoint, a
 * receiver here that answers 200. A second tenant, whose own wallet payments trickle in all run
 * long, has the per-tenant cap of endpoints all pointing at a receiver that answers 500, so its
 * deliveries pile up failing beside the first tenant's. A consumer of the run's own reads each
 * broker. The checks compare what each sink got with the outbox.
 */
import type pg from 'pg';
import { call, type ApiTarget } from '../bench/api.js';
import type { Broker } from '../tools/stack/brokers-here.js';
import type { Stack } from '../tools/stack/stack.js';
import { collectFromKafka, collectFromRabbitMq, type Collector } from '../test/support/brokers.js';
import { Receiver } from '../test/support/webhook-receiver.js';
import type { Arrivals, SinkLabel } from './checks.js';

/** The second tenant, whose endpoints are down. */
export const NOISY_TENANT = { tenant: 'noisy', apiKey: 'sk_test_chaos_noisy' };
/** Endpoints a tenant may have (docs/webhooks.md): the noisy tenant has them all. */
export const NOISY_ENDPOINTS = 16;

/** The stack component that runs each broker. */
export const BROKER_COMPONENTS: Record<Broker, string> = { kafka: 'kafka', amqp: 'rabbitmq' };

/** The noisy tenant's deliveries as they stand. */
export interface NoisyDeliveries {
  pending: number;
  delivered: number;
  failed: number;
  /** Attempts its endpoints refused (5xx). */
  refusedAttempts: number;
  /** Its endpoints that refused at least one attempt. */
  endpointsRefusing: number;
}

export class Sinks {
  private readonly healthy = new Receiver();
  private readonly failing = new Receiver();
  private rabbit: Collector | undefined;
  private kafka: Collector | undefined;

  constructor(
    private readonly stack: Stack,
    private readonly brokers: readonly Broker[],
  ) {
    this.failing.status = () => 500;
  }

  /** Starts the receivers and the RabbitMQ consumer (its queue keeps what comes while it reconnects). */
  async start(): Promise<void> {
    await Promise.all([this.healthy.start(), this.failing.start()]);
    if (this.brokers.includes('amqp') && this.stack.amqpUrl)
      this.rabbit = await collectFromRabbitMq(this.stack.amqpUrl);
  }

  /** One endpoint of the load's tenant at the healthy receiver; the cap of the noisy tenant's at the failing one. */
  async register(main: ApiTarget, noisy: ApiTarget): Promise<void> {
    await this.endpoint(main, this.healthy.url);
    for (let i = 0; i < NOISY_ENDPOINTS; i++) await this.endpoint(noisy, this.failing.url);
  }

  /**
   * Starts Kafka's consumer (once), reading the topic from the start: the run calls it when
   * Kafka's own outage is over, so the consumer never has to outlive one, and the events sent
   * before are still on the broker.
   */
  async readKafka(): Promise<void> {
    if (!this.kafka && this.brokers.includes('kafka') && this.stack.kafkaBrokers)
      this.kafka = await collectFromKafka(this.stack.kafkaBrokers);
  }

  /** When each sink first got each event. */
  arrivals(): Arrivals {
    const firstSeen = (list: { id: string; at: number }[]) => {
      const seen = new Map<string, number>();
      for (const { id, at } of list) if (!seen.has(id) || seen.get(id)! > at) seen.set(id, at);
      return seen;
    };
    const arrivals: Arrivals = new Map<SinkLabel, Map<string, number>>([
      ['webhooks', firstSeen(this.healthy.received.map((d) => ({ id: d.event.id, at: d.receivedAt })))],
    ]);
    const consumers: [Broker, Collector | undefined][] = [
      ['kafka', this.kafka],
      ['amqp', this.rabbit],
    ];
    for (const [broker, collector] of consumers) {
      if (!this.brokers.includes(broker)) continue;
      arrivals.set(
        broker,
        firstSeen((collector?.received ?? []).map((r) => ({ id: r.event.id, at: r.receivedAt }))),
      );
    }
    return arrivals;
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.healthy.stop(),
      this.failing.stop(),
      this.rabbit?.close(),
      this.kafka?.close(),
    ]);
  }

  private async endpoint(target: ApiTarget, url: string): Promise<void> {
    const response = await call(target, 'POST', '/v1/webhook-endpoints', { url });
    if (response.status !== 201)
      throw new Error(
        `registering a webhook endpoint failed: ${response.status} ${JSON.stringify(response.body)}`,
      );
  }
}

export async function noisyDeliveries(pool: pg.Pool): Promise<NoisyDeliveries> {
  const { rows } = await pool.query<Record<keyof NoisyDeliveries, string>>(
    `WITH refused AS (
       SELECT d.endpoint_id FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
        WHERE d.tenant_id = $1 AND a.status_code >= 500)
     SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
            count(*) FILTER (WHERE status = 'delivered') AS delivered,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            (SELECT count(*) FROM refused) AS "refusedAttempts",
            (SELECT count(DISTINCT endpoint_id) FROM refused) AS "endpointsRefusing"
       FROM webhook_deliveries WHERE tenant_id = $1`,
    [NOISY_TENANT.tenant],
  );
  const row = rows[0]!;
  return {
    pending: Number(row.pending),
    delivered: Number(row.delivered),
    failed: Number(row.failed),
    refusedAttempts: Number(row.refusedAttempts),
    endpointsRefusing: Number(row.endpointsRefusing),
  };
}
