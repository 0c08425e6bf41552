import { fitLength } from '../hash.js';

/** The longest idempotency key Stripe and the sandbox accept (characters). */
export const MAX_GATEWAY_IDEMPOTENCY_KEY = 255;

/**
 * The key a connector sends for the workflow's idempotency key. Keys of at most 255 characters
 * go as they are; a longer one (a long tenant or order id, a refund's own Idempotency-Key) keeps
 * its start for people reading the gateway's logs and ends with the SHA-256 of the whole key, so
 * it stays the same on every retry and distinct from every other step's.
 */
export function gatewayIdempotencyKeyFor(key: string): string {
  return fitLength(key, MAX_GATEWAY_IDEMPOTENCY_KEY);
}
