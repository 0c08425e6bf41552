/**
 * The faults, injected one per phase while load runs: crashes (kill -9, then the supervisor starts
 * the component again on the same port and data), the sandbox gateway's own fault switches, a
 * tenant's webhook endpoints down, and a broker that hangs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { BROKER_LABELS, type Broker } from '../tools/stack/brokers-here.js';
import type { Stack } from '../tools/stack/stack.js';
import type { WebhookDeliveryStats } from '../sandbox/webhooks.js';
import type { ReferenceStats, SandboxStats } from '../sandbox/wire.js';
import { BROKER_COMPONENTS, NOISY_ENDPOINTS, noisyDeliveries } from './sinks.js';

type Stats = SandboxStats & { webhooks: WebhookDeliveryStats };

/** What the sandbox did, added up over its lifetimes; a phase's share shows its fault took effect. */
export interface SandboxCounters {
  charges: number;
  captures: number;
  voids: number;
  refunds: number;
  webhooksSent: number;
  webhookAttempts: number;
  webhooksFailed: number;
}

export interface Mix {
  wallet: number;
  card: number;
  /** Card payments that need 3-D Secure; completed by the client, answered by webhook. */
  threeDs: number;
}

export interface Fault {
  name: string;
  /** While it lasts, the API may answer 5xx or not at all: such answers are expected. */
  outage: boolean;
  mix?: Mix;
  /**
   * Injected with no payment in flight, before the phase's load starts. The sandbox keeps its
   * authorizations in memory: one killed mid-payment forgets them, and what Paysaga then meets (an
   * authorization the gateway denies knowing) is a sandbox artifact no real PSP produces.
   */
  quiesce?: boolean;
  /**
   * The broker the fault takes down: the phase runs only when the run has it, and the other sinks
   * must keep getting the phase's events while it is down (checks.ts, `held`).
   */
  broker?: Broker;
  /** The phase lasts at least this long (s): a broker outage must outlast its client's timeouts. */
  minSeconds?: number;
  /** The noisy tenant's payments per second in this phase, instead of its trickle. */
  noisyRate?: number;
  inject(context: FaultContext): Promise<void>;
  /** Undoes a switch that does not wear off by itself. */
  clear?(context: FaultContext): Promise<void>;
}

export interface FaultContext {
  stack: Stack;
  sandbox: Sandbox;
  pool: pg.Pool;
}

export const DEFAULT_MIX: Mix = { wallet: 0.5, card: 0.4, threeDs: 0.1 };
const WEBHOOK_MIX: Mix = { wallet: 0.3, card: 0.3, threeDs: 0.4 };

const crash = (component: string, outage: boolean): Fault => ({
  name: `kill -9 ${component}`,
  outage,
  inject: ({ stack }) => stack.restart(component),
});

/**
 * SIGSTOP: the broker hangs for the rest of the phase (connections open, nothing answered), the
 * harder case for its clients than a refused connection; SIGCONT at the end brings it back.
 */
const brokerDown = (broker: Broker): Fault => ({
  name: `${BROKER_LABELS[broker].toLowerCase()} down`,
  outage: false,
  broker,
  minSeconds: 30,
  inject: async ({ stack }) => stack.kill(BROKER_COMPONENTS[broker], 'SIGSTOP'),
  clear: async ({ stack }) => stack.kill(BROKER_COMPONENTS[broker], 'SIGCONT'),
});

/**
 * The noisy tenant's endpoints answer 500 all run long; in this phase its payments come fastest,
 * so its failing deliveries pile up most. Injected once every one of its endpoints has refused.
 */
const tenantEndpointsDown: Fault = {
  name: "a tenant's endpoints down",
  outage: false,
  noisyRate: 1.5,
  inject: async ({ pool }) => {
    for (let waited = 0; ; waited += 1) {
      const { endpointsRefusing } = await noisyDeliveries(pool);
      if (endpointsRefusing >= NOISY_ENDPOINTS) return;
      if (waited >= 60)
        throw new Error(`${endpointsRefusing} of ${NOISY_ENDPOINTS} endpoints refused a delivery in 60 s`);
      await sleep(1000);
    }
  },
};

/**
 * The run's phases. `colocated` (`PAYSAGA_COLOCATED=1`): the API and the worker are one process,
 * `app`, whose crash is an outage of the API.
 */
export const chaosFaults = (colocated: boolean): Fault[] => [
  // What fails with no fault at all is Paysaga's, whatever the phases after it show.
  { name: 'none (baseline)', outage: false, inject: async () => undefined },
  ...(colocated ? [crash('app', true)] : [crash('worker', false), crash('api', true)]),
  crash('temporal', true),
  crash('postgres', true),
  {
    name: 'kill -9 gateway',
    outage: false,
    quiesce: true,
    inject: async ({ stack, sandbox }) => {
      // Writes answer 503 (retried, nothing done) so the charges read now are all there will be.
      await sandbox.setFaults({ failNext: 1_000_000 });
      await sandbox.snapshot();
      await stack.restart('gateway');
    },
  },
  {
    name: 'gateway 5xx burst',
    outage: false,
    inject: ({ sandbox }) => sandbox.setFaults({ failNext: 8 }),
    clear: ({ sandbox }) => sandbox.reset(),
  },
  {
    name: 'gateway timeout after charge',
    outage: false,
    inject: ({ sandbox }) => sandbox.setFaults({ timeoutAfterChargeNext: 3, hangMs: 3000 }),
    clear: ({ sandbox }) => sandbox.reset(),
  },
  {
    name: 'duplicate webhooks',
    outage: false,
    mix: WEBHOOK_MIX,
    inject: ({ sandbox }) => sandbox.setFaults({ duplicateWebhooks: true }),
    clear: ({ sandbox }) => sandbox.reset(),
  },
  {
    name: 'out-of-order webhooks',
    outage: false,
    mix: WEBHOOK_MIX,
    inject: ({ sandbox }) => sandbox.setFaults({ outOfOrderWebhooks: true, outOfOrderDelayMs: 1500 }),
    clear: ({ sandbox }) => sandbox.reset(),
  },
  tenantEndpointsDown,
  // After the noisy tenant's surge: the brokers go down while its deliveries keep failing. Kafka
  // first: the run's Kafka consumer starts when Kafka's outage ends, live for RabbitMQ's.
  brokerDown('kafka'),
  brokerDown('amqp'),
];

/**
 * The sandbox's control plane. Its charges live in memory, so what it knew before a crash is kept
 * here and added to what the new instance reports.
 */
export class Sandbox {
  private readonly before: Stats[] = [];

  constructor(private readonly url: string) {}

  async setFaults(faults: Record<string, unknown>): Promise<void> {
    await this.post('faults', faults);
  }

  async reset(): Promise<void> {
    await this.post('reset');
  }

  async snapshot(): Promise<void> {
    this.before.push(await this.stats());
  }

  async counters(): Promise<SandboxCounters> {
    const all = [...this.before, await this.stats()];
    const sum = (pick: (s: Stats) => number) => all.reduce((n, s) => n + pick(s), 0);
    return {
      charges: sum((s) => s.charges),
      captures: sum((s) => s.captures),
      voids: sum((s) => s.voids),
      refunds: sum((s) => s.refunds),
      webhooksSent: sum((s) => s.webhooks.sent),
      webhookAttempts: sum((s) => s.webhooks.attempts),
      webhooksFailed: sum((s) => s.webhooks.failed),
    };
  }

  /** Per gateway reference (Paysaga's payment id): every lifetime of the sandbox added up. */
  async charges(): Promise<Map<string, ReferenceStats>> {
    const total = new Map<string, ReferenceStats>();
    for (const stats of [...this.before, await this.stats()]) {
      for (const [reference, s] of Object.entries(stats.byReference)) {
        const sum = total.get(reference) ?? {
          authorizations: 0,
          captures: 0,
          voids: 0,
          capturedAmount: 0,
          refundedAmount: 0,
        };
        for (const key of Object.keys(sum) as (keyof ReferenceStats)[]) sum[key] += s[key];
        total.set(reference, sum);
      }
    }
    return total;
  }

  private async stats(): Promise<Stats> {
    const response = await fetch(`${this.url}/_sandbox/stats`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`sandbox stats answered ${response.status}`);
    return (await response.json()) as Stats;
  }

  private async post(route: string, body?: unknown): Promise<void> {
    const response = await fetch(`${this.url}/_sandbox/${route}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`sandbox ${route} answered ${response.status}`);
  }
}
