import type { Executor } from '../db/client.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteExpiredIdempotencyKeys,
  releaseIdempotencyKey,
  type ClaimResult,
  type IdempotencyScope,
} from '../db/idempotency.js';
import { canonicalJson, sha256 } from '../hash.js';
import { isSealed, type SecretBox } from '../webhooks/secrets.js';

export type { ClaimResult, IdempotencyScope };

export interface IdempotencySettings {
  ttlHours: number;
  leaseSeconds: number;
}

/**
 * Idempotency keys (Stripe's `Idempotency-Key`): a key is claimed for one request, its answer
 * recorded, and the same request with it answered again from the record. The fields of an
 * answer that are secrets (a webhook endpoint's signing secret) are kept sealed at rest.
 */
export class IdempotencyKeys {
  constructor(
    private readonly db: Executor,
    private readonly box: SecretBox,
    private readonly settings: IdempotencySettings,
  ) {}

  /** Claims `scope` for `request` (any JSON-like value: the same request hashes the same). */
  async claim(
    scope: IdempotencyScope,
    request: unknown,
    secretFields: readonly string[],
  ): Promise<ClaimResult> {
    const hash = sha256(canonicalJson(request));
    const claim = await claimIdempotencyKey(
      this.db,
      scope,
      hash,
      this.settings.ttlHours,
      this.settings.leaseSeconds,
    );
    if (claim.kind !== 'replay') return claim;
    return {
      ...claim,
      body: mapFields(claim.body, secretFields, (v) => (isSealed(v) ? this.box.open(v) : v)),
    };
  }

  /** Records the answer (`status` < 500) the key replays from now on. */
  complete(
    scope: IdempotencyScope,
    status: number,
    body: unknown,
    secretFields: readonly string[],
  ): Promise<void> {
    const sealed = mapFields(body, secretFields, (value) => this.box.seal(value));
    return completeIdempotencyKey(this.db, scope, status, sealed);
  }

  /** Frees the key (the request failed on Paysaga's side): the same request may run again. */
  release(scope: IdempotencyScope): Promise<void> {
    return releaseIdempotencyKey(this.db, scope);
  }

  /** Deletes up to `limit` expired keys; how many went. */
  deleteExpired(limit: number): Promise<number> {
    return deleteExpiredIdempotencyKeys(this.db, limit);
  }
}

function mapFields(body: unknown, fields: readonly string[], map: (value: string) => string): unknown {
  if (fields.length === 0 || typeof body !== 'object' || body === null) return body;
  const copy: Record<string, unknown> = { ...body };
  for (const field of fields) {
    const value = copy[field];
    if (typeof value === 'string') copy[field] = map(value);
  }
  return copy;
}
