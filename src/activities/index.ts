import type { Executor } from '../db/client.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { createGatewayActivities } from './gateway.js';
import { createLedgerActivities } from './ledger.js';
import { createPaymentActivities } from './payments.js';
import { refusingPermanentErrors } from './permanent.js';
import { createRefundActivities } from './refunds.js';

export interface ActivityDeps {
  db: Executor;
  connectors: ConnectorRegistry;
}

/** All activities over injected ports; workflows import the type only. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...refusingPermanentErrors(createLedgerActivities(deps.db)),
    ...refusingPermanentErrors(createPaymentActivities(deps.db)),
    ...createGatewayActivities(deps.connectors),
    ...refusingPermanentErrors(createRefundActivities(deps.db)),
  };
}

export type Activities = ReturnType<typeof createActivities>;
