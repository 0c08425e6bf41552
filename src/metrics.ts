import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SinkLag } from './domain/sinks.js';

/**
 * Paysaga's Prometheus metrics. Each process has its own registry: the API counts HTTP and
 * `Idempotency-Key` outcomes, the worker counts what its activities see (payments, refunds,
 * gateway calls). Counters are at-least-once: an activity retried after its effect counts again,
 * which Prometheus' rates tolerate; the ledger and the events table stay the exact record.
 */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function apiMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ process: 'api' });
  collectDefaultMetrics({ register: registry, prefix: 'paysaga_api_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'paysaga_http_request_duration_seconds',
      help: 'HTTP requests by route template, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: SECONDS,
      registers: [registry],
    }),
    eagerStarts: new Counter({
      name: 'paysaga_payments_started_eagerly_total',
      help: 'Payments whose workflow Temporal started with its first task in the answer, run by this process (co-located mode)',
      registers: [registry],
    }),
    idempotencyReplays: new Counter({
      name: 'paysaga_idempotency_replays_total',
      help: 'Requests answered with the stored response of their Idempotency-Key',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    idempotencyConflicts: new Counter({
      name: 'paysaga_idempotency_conflicts_total',
      help: 'Idempotency-Key refusals: reused with another request (422) or still in flight (409)',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof apiMetrics>;

export function workerMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ process: 'worker' });
  collectDefaultMetrics({ register: registry, prefix: 'paysaga_worker_' });
  return {
    registry,
    payments: new Counter({
      name: 'paysaga_payments_total',
      help: 'Payments reaching each status, by payment method',
      labelNames: ['status', 'method'] as const,
      registers: [registry],
    }),
    timeToSettled: new Histogram({
      name: 'paysaga_payment_time_to_settled_seconds',
      help: 'From the payment request to its first settled status (what the synchronous API waits for)',
      labelNames: ['status', 'method'] as const,
      buckets: SECONDS,
      registers: [registry],
    }),
    refunds: new Counter({
      name: 'paysaga_refunds_total',
      help: 'Refunds reaching a final status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    gatewayCalls: new Counter({
      name: 'paysaga_gateway_requests_total',
      help: 'Gateway calls by connector and operation; outcome ok, declined, retryable_error or final_error',
      labelNames: ['connector', 'operation', 'outcome'] as const,
      registers: [registry],
    }),
    gatewayDuration: new Histogram({
      name: 'paysaga_gateway_request_duration_seconds',
      help: 'Gateway call latency by connector and operation',
      labelNames: ['connector', 'operation'] as const,
      buckets: SECONDS,
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof workerMetrics>;

/**
 * How far behind each event sink is, read from PostgreSQL at each scrape: the age of the oldest
 * event the sink has not had (0 when it has them all) and how many wait. Alert on the first.
 */
export function relayLagMetrics(registry: Registry, read: () => Promise<SinkLag[]>): void {
  // Registered after the lag gauge, whose collect (run first at each scrape) sets it from the same read.
  const backlog = new Gauge({
    name: 'paysaga_event_relay_backlog',
    help: 'Events a sink has not had yet (counted up to 100,000)',
    labelNames: ['sink'] as const,
    registers: [],
  });
  new Gauge({
    name: 'paysaga_event_relay_lag_seconds',
    help: 'Seconds since the oldest event a sink has not had was written (0: it has them all)',
    labelNames: ['sink'] as const,
    registers: [registry],
    async collect() {
      for (const lag of await read()) {
        this.set({ sink: lag.sink }, lag.lagSeconds);
        backlog.set({ sink: lag.sink }, lag.backlog);
      }
    },
  });
  registry.registerMetric(backlog);
}

/**
 * Serves `GET /metrics` on `port`: this registry's metrics, followed by those of `extra` (the
 * Temporal SDK's own exporter, scraped from its loopback address), so one scrape has both.
 * Resolves with the server, or undefined (logged) when the port is taken: a second worker on the
 * same machine runs without its own endpoint rather than not at all.
 */
export async function serveMetrics(options: {
  registry: Registry;
  port: number;
  host?: string | undefined;
  extra?: string | undefined;
  log?: (line: string) => void;
}): Promise<Server | undefined> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    void (async () => {
      let text = await options.registry.metrics();
      if (options.extra) {
        const sdk = await fetch(options.extra, { signal: AbortSignal.timeout(2_000) })
          .then((answer) => (answer.ok ? answer.text() : ''))
          .catch(() => '');
        text += `\n# Temporal SDK metrics\n${sdk}`;
      }
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
    })().catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      options.log?.(`metrics not served on port ${options.port}: ${error.code ?? error.message}`);
      resolve(undefined);
    });
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve(server));
  });
}

/**
 * Events an integration profile's binding could not map or publish, parked and retried on their
 * own (src/events/profile-sink.ts), read from PostgreSQL at each scrape. Alert on any above 0.
 */
export function parkedEventMetrics(
  registry: Registry,
  read: () => Promise<{ sink: string; parked: number }[]>,
): void {
  new Gauge({
    name: 'paysaga_profile_parked_events',
    help: "Events a profile's outbound binding could not map or publish, waiting to be retried",
    labelNames: ['sink'] as const,
    registers: [registry],
    async collect() {
      for (const { sink, parked } of await read()) this.set({ sink }, parked);
    },
  });
}
