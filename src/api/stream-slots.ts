import { createHash } from 'node:crypto';
import { ProblemError } from './problem.js';

export interface StreamLimits {
  /** Open streams (SSE and WebSocket together) per tenant, in one API process. */
  perTenant: number;
  /** Open streams per customer token: one app, a few screens. */
  perCustomerToken: number;
}

/**
 * Counts the open live streams of this API process, so that one tenant, or one leaked customer
 * token, cannot hold every connection and file descriptor of it. Merchant keys are counted per
 * tenant only: a merchant's backend may relay one stream per customer.
 */
export class StreamSlots {
  readonly #open = new Map<string, number>();

  constructor(private readonly limits: StreamLimits) {}

  /** The refusal of one more stream, or undefined when there is room. */
  refusal(tenantId: string, customerToken: string | undefined): ProblemError | undefined {
    if ((this.#open.get(tenantKey(tenantId)) ?? 0) >= this.limits.perTenant)
      return tooMany(`this tenant already has ${this.limits.perTenant} open streams on this API process`);
    if (customerToken && (this.#open.get(tokenKey(customerToken)) ?? 0) >= this.limits.perCustomerToken)
      return tooMany(`this customer token already has ${this.limits.perCustomerToken} open streams`);
    return undefined;
  }

  /** Takes a slot (or throws the refusal); the function returned gives it back, once. */
  open(tenantId: string, customerToken: string | undefined): () => void {
    const refused = this.refusal(tenantId, customerToken);
    if (refused) throw refused;
    const keys = [tenantKey(tenantId), ...(customerToken ? [tokenKey(customerToken)] : [])];
    for (const key of keys) this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const left = (this.#open.get(key) ?? 1) - 1;
        if (left > 0) this.#open.set(key, left);
        else this.#open.delete(key);
      }
    };
  }
}

const tenantKey = (tenantId: string) => `tenant:${tenantId}`;
/** Tokens are counted by a hash: a live credential is not kept in memory longer than its request. */
const tokenKey = (token: string) => `token:${createHash('sha256').update(token).digest('base64url')}`;

function tooMany(detail: string): ProblemError {
  return new ProblemError(429, 'too_many_streams', `${detail}; close one first`, {}, { 'Retry-After': '5' });
}
