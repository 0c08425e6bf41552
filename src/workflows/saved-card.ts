import type { SavedCardUse } from '../domain/payment.js';
import type { SavedCardCharge } from '../gateway/port.js';

/** What a charge of a saved card tells the gateway: who is there, and the chain it continues. */
export function savedCharge(saved: SavedCardUse): SavedCardCharge {
  return {
    offSession: saved.offSession,
    gatewayCustomerId: saved.gatewayCustomerId,
    networkTransactionId: saved.networkTransactionId,
  };
}
