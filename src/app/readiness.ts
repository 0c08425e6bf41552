import { connect } from 'node:net';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { sql } from '../db/orm.js';
import { relayLag } from '../db/outbox.js';
import type { SinkLag } from '../domain/sinks.js';
import { brokerSinks } from '../domain/sinks.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import type { TemporalGateway } from './temporal.js';
import { withTimeout } from './with-timeout.js';

const PROBE_TIMEOUT_MS = 1_000;

export interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface Readiness {
  /** PostgreSQL and Temporal both answer: the API can take and read payments. */
  ready: boolean;
  status: 'ready' | 'degraded';
  dependencies: {
    postgres: Check;
    temporal: Check & { circuit: string };
    gateways: Record<string, Check>;
    brokers: Record<string, Check>;
    relay: Record<string, { ok: boolean; backlog: number; lagSeconds: number }>;
  };
}

/** One dependency check: ok and its latency, or the reason it failed, within `ms`. */
async function probe(check: () => Promise<unknown>, ms = PROBE_TIMEOUT_MS): Promise<Check> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const answered = await withTimeout(
      check().then(() => true),
      ms,
    );
    return answered
      ? { ok: true, latencyMs: latencyMs() }
      : { ok: false, latencyMs: latencyMs(), error: 'timeout' };
  } catch (error) {
    return { ok: false, latencyMs: latencyMs(), error: error instanceof Error ? error.name : 'error' };
  }
}

/** A TCP connection to `host:port` opens (a broker is listening). */
function tcpConnect(address: string): Promise<void> {
  const [host = '127.0.0.1', port = '0'] = address.replace(/^[a-z]+:\/\/([^@/]*@)?/, '').split(/[:/]/);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** PostgreSQL and Temporal both answer within `ms`: what a process needs to start workflows. */
export async function dependenciesAnswer(
  db: Executor,
  temporal: TemporalGateway,
  ms: number,
): Promise<boolean> {
  const checks = await Promise.all([
    probe(() => db.execute(sql`SELECT 1`), ms),
    probe(() => temporal.ping(ms), ms),
  ]);
  return checks.every((check) => check.ok);
}

/**
 * What the API's readiness reports. Ready when PostgreSQL and Temporal both answer within a
 * second: the API needs nothing else to take and read payments. Each dependency is reported
 * with its latency (Temporal with the circuit's state), so an operator sees which one is down
 * without waiting on it: also each gateway connector and each configured broker (a TCP
 * connection), which make the status `degraded` when down, not unready (payments wait for the
 * gateway in their workflows, and events wait in the outbox). Each event sink's relay lag is
 * reported too, and a sink whose oldest waiting event is older than
 * EVENT_RELAY_LAG_ALERT_SECONDS makes the status `degraded`.
 */
export class ReadinessCheck {
  /** Each connector once (its first account: they share the provider). */
  private readonly gateways;
  private readonly brokers: [string, string][];
  private readonly relaySinks: string[];

  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    connectors: ConnectorRegistry,
    private readonly config: Pick<
      Config,
      'eventSinks' | 'kafkaBrokers' | 'amqpUrl' | 'eventRelayLagAlertSeconds'
    >,
  ) {
    this.gateways = connectors.names().flatMap((name) => connectors.accounts(name).slice(0, 1));
    this.brokers = [
      ...(config.eventSinks.includes('kafka')
        ? (config.kafkaBrokers ?? []).map((b): [string, string] => [`kafka ${b}`, b])
        : []),
      ...(config.eventSinks.includes('amqp') && config.amqpUrl
        ? [['rabbitmq', config.amqpUrl] as [string, string]]
        : []),
    ];
    this.relaySinks = ['webhooks', ...brokerSinks(config.eventSinks)];
  }

  async check(): Promise<Readiness> {
    let lags: SinkLag[] = [];
    const [postgres, temporalCheck, gatewayChecks, brokerChecks] = await Promise.all([
      probe(() => this.db.execute(sql`SELECT 1`)),
      // An answer closes an open circuit at once instead of waiting for the next request.
      probe(() => this.temporal.ping(PROBE_TIMEOUT_MS)),
      Promise.all(this.gateways.map((account) => probe(() => account.gateway.ping()))),
      Promise.all(this.brokers.map(([, address]) => probe(() => tcpConnect(address)))),
      // Reported when PostgreSQL answers in time; it decides nothing about readiness.
      withTimeout(relayLag(this.db, this.relaySinks), PROBE_TIMEOUT_MS)
        .then((read) => (lags = read ?? []))
        .catch(() => undefined),
    ]);
    const relay = Object.fromEntries(
      lags.map(({ sink, backlog, lagSeconds }) => [
        sink,
        {
          ok: lagSeconds < this.config.eventRelayLagAlertSeconds,
          backlog,
          lagSeconds: Math.round(lagSeconds),
        },
      ]),
    );
    const others = [...gatewayChecks, ...brokerChecks, ...Object.values(relay)];
    return {
      ready: postgres.ok && temporalCheck.ok,
      status: others.every((check) => check.ok) ? 'ready' : 'degraded',
      dependencies: {
        postgres,
        temporal: { ...temporalCheck, circuit: this.temporal.state.state },
        gateways: Object.fromEntries(this.gateways.map((a, i) => [a.gateway.name, gatewayChecks[i]!])),
        brokers: Object.fromEntries(this.brokers.map(([name], i) => [name, brokerChecks[i]!])),
        relay,
      },
    };
  }
}
