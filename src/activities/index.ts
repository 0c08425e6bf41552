import type { Executor } from '../db/client.js';
import type { PaymentGateway } from '../gateway/port.js';
import { createGatewayActivities } from './gateway.js';
import { createLedgerActivities } from './ledger.js';
import { createPaymentActivities } from './payments.js';

export interface ActivityDeps {
  db: Executor;
  gateway: PaymentGateway;
}

/** All activities over injected ports; workflows import the type only. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLedgerActivities(deps.db),
    ...createPaymentActivities(deps.db),
    ...createGatewayActivities(deps.gateway),
  };
}

export type Activities = ReturnType<typeof createActivities>;
