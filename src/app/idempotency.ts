import type { Executor } from '../db/client.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteExpiredIdempotencyKeys,
  releaseIdempotencyKey,
  type ClaimResult,
  type IdempotencyScope,
} from '../db/idempotency.js';

export type { ClaimResult, IdempotencyScope };

/** The Idempotency-Key records a door keeps in PostgreSQL (db/idempotency.ts says how). */
export class IdempotencyKeys {
  constructor(private readonly db: Executor) {}

  /** `leaseSeconds`: how long the request may hold the key before another may take over. */
  claim(
    scope: IdempotencyScope,
    requestHash: string,
    ttlHours: number,
    leaseSeconds: number,
  ): Promise<ClaimResult> {
    return claimIdempotencyKey(this.db, scope, requestHash, ttlHours, leaseSeconds);
  }

  complete(scope: IdempotencyScope, status: number, body: unknown): Promise<void> {
    return completeIdempotencyKey(this.db, scope, status, body);
  }

  release(scope: IdempotencyScope): Promise<void> {
    return releaseIdempotencyKey(this.db, scope);
  }

  deleteExpired(limit: number): Promise<number> {
    return deleteExpiredIdempotencyKeys(this.db, limit);
  }
}
