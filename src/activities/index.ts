import type { Executor } from '../db/client.js';
import type { CircuitBreakerOptions } from '../gateway/circuit-breaker.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import type { WorkerMetrics } from '../metrics.js';
import type { SettledPayments } from '../events/settled.js';
import { createAutoTopUpActivities } from './auto-top-up.js';
import { createCheckoutActivities } from './checkout.js';
import { createGatewayActivities } from './gateway.js';
import { createLedgerActivities } from './ledger.js';
import { createPaymentActivities } from './payments.js';
import { refusingPermanentErrors } from './permanent.js';
import { createRefundActivities } from './refunds.js';

export interface ActivityDeps {
  db: Executor;
  connectors: ConnectorRegistry;
  /** Prometheus counters of the worker process (none in tests that do not read them). */
  metrics?: WorkerMetrics | undefined;
  /** The API's public base URL (PUBLIC_URL): checkout session events carry their page's URL. */
  publicUrl: string;
  /** Requests of this process waiting for payments to settle (the co-located mode). */
  settled?: SettledPayments | undefined;
  /** When a connector's circuit opens (defaults: src/gateway/circuit-breaker.ts). */
  circuit?: CircuitBreakerOptions | undefined;
}

/** All activities over injected ports; workflows import the type only. */
export function createActivities(deps: ActivityDeps) {
  const notes = { metrics: deps.metrics, settled: deps.settled };
  return {
    ...refusingPermanentErrors(createLedgerActivities(deps.db, notes)),
    ...refusingPermanentErrors(createPaymentActivities(deps.db, notes)),
    ...createGatewayActivities(deps.connectors, deps.metrics, deps.circuit),
    ...refusingPermanentErrors(createRefundActivities(deps.db, deps.metrics)),
    ...refusingPermanentErrors(createCheckoutActivities(deps.db, deps.publicUrl)),
    ...refusingPermanentErrors(createAutoTopUpActivities(deps.db)),
  };
}

export type Activities = ReturnType<typeof createActivities>;
