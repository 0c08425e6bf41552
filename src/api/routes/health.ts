import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { connect } from 'node:net';
import { sql } from '../../db/orm.js';
import { relayLag, type SinkLag } from '../../db/outbox.js';
import { brokerSinks } from '../../domain/sinks.js';
import { withTimeout } from '../../app/with-timeout.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../problem.js';

const PROBE_TIMEOUT_MS = 1_000;

/** One dependency check: ok and its latency, or the reason it failed, within a second. */
async function probe(
  check: () => Promise<unknown>,
): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const answered = await withTimeout(
      check().then(() => true),
      PROBE_TIMEOUT_MS,
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

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, temporal, temporalCircuit, config, connectors } = app.services;
  /** Each connector once (its first account: they share the provider). */
  const gateways = connectors.names().flatMap((name) => connectors.accounts(name).slice(0, 1));
  const brokers: [string, string][] = [
    ...(config.eventSinks.includes('kafka')
      ? (config.kafkaBrokers ?? []).map((b): [string, string] => [`kafka ${b}`, b])
      : []),
    ...(config.eventSinks.includes('amqp') && config.amqpUrl
      ? [['rabbitmq', config.amqpUrl] as [string, string]]
      : []),
  ];

  const relaySinks = ['webhooks', ...brokerSinks(config.eventSinks)];

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  /**
   * Ready when PostgreSQL and Temporal both answer within a second: the API needs nothing else
   * to take and read payments. Each dependency is reported with its latency (Temporal with the
   * API's circuit state), so an operator sees which one is down without waiting on it: also each
   * gateway connector and each configured broker (a TCP connection), which make the status
   * `degraded` when down, not unready (payments wait for the gateway in their workflows, and
   * events wait in the outbox). Each event sink's relay lag is reported too, and a sink whose
   * oldest waiting event is older than EVENT_RELAY_LAG_ALERT_SECONDS makes the status `degraded`.
   */
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    let lags: SinkLag[] = [];
    const [postgres, temporalCheck, gatewayChecks, brokerChecks] = await Promise.all([
      probe(() => db.execute(sql`SELECT 1`)),
      probe(() =>
        temporal.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
          temporal.workflowService.getSystemInfo({}),
        ),
      ),
      Promise.all(gateways.map((account) => probe(() => account.gateway.ping()))),
      Promise.all(brokers.map(([, address]) => probe(() => tcpConnect(address)))),
      // Reported when PostgreSQL answers in time; it decides nothing about readiness.
      withTimeout(relayLag(db, relaySinks), PROBE_TIMEOUT_MS)
        .then((read) => (lags = read ?? []))
        .catch(() => undefined),
    ]);
    const gatewayStatus = Object.fromEntries(gateways.map((a, i) => [a.gateway.name, gatewayChecks[i]!]));
    const brokerStatus = Object.fromEntries(brokers.map(([name], i) => [name, brokerChecks[i]!]));
    const relay = Object.fromEntries(
      lags.map(({ sink, backlog, lagSeconds }) => [
        sink,
        { ok: lagSeconds < config.eventRelayLagAlertSeconds, backlog, lagSeconds: Math.round(lagSeconds) },
      ]),
    );
    const others = [...gatewayChecks, ...brokerChecks, ...Object.values(relay)];
    // A successful probe closes an open circuit at once instead of waiting for the next request.
    if (temporalCheck.ok) temporalCircuit.succeeded();
    const dependencies = {
      postgres,
      temporal: { ...temporalCheck, circuit: temporalCircuit.state.state },
      gateways: gatewayStatus,
      brokers: brokerStatus,
      relay,
    };
    if (postgres.ok && temporalCheck.ok)
      return { status: others.every((check) => check.ok) ? 'ready' : 'degraded', dependencies };
    return reply
      .status(503)
      .header('Retry-After', '2')
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problemBody(503, 'not_ready', 'a dependency is not reachable'), dependencies });
  });
};
