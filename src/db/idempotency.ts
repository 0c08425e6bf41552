import { and, eq, lt, sql } from './orm.js';
import type { Executor } from './client.js';
import { idempotencyKeys } from './schema.js';

export interface IdempotencyScope {
  tenantId: string;
  route: string;
  key: string;
}

export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'mismatch' }
  | { kind: 'in_flight'; retryAfterSeconds: number }
  | { kind: 'replay'; status: number; body: unknown };

/**
 * Claims a key for one request. The INSERT ... ON CONFLICT DO NOTHING decides the race between
 * concurrent requests with the same key: exactly one inserts the row and runs, the others see it.
 */
export async function claimIdempotencyKey(
  db: Executor,
  scope: IdempotencyScope,
  requestHash: string,
  ttlHours: number,
  /** How long a request may hold its key before another may take over (the holder crashed). */
  leaseSeconds: number,
): Promise<ClaimResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await db
      .insert(idempotencyKeys)
      .values({
        ...scope,
        requestHash,
        state: 'in_flight',
        lockedUntil: sql`now() + make_interval(secs => ${leaseSeconds})`,
        expiresAt: sql`now() + make_interval(hours => ${ttlHours})`,
      })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (inserted.length > 0) return { kind: 'claimed' };

    const [row] = await db.select().from(idempotencyKeys).where(matches(scope));
    if (!row) continue; // deleted meanwhile (a failed request released it): try to claim again
    if (row.expiresAt.getTime() < Date.now()) {
      await db.delete(idempotencyKeys).where(and(matches(scope), lt(idempotencyKeys.expiresAt, sql`now()`)));
      continue;
    }
    if (row.requestHash !== requestHash) return { kind: 'mismatch' };
    if (row.state === 'done')
      return { kind: 'replay', status: row.responseStatus ?? 200, body: row.responseBody };
    // The holder's lease ran out: it crashed. Take the key over, atomically.
    const taken = await db
      .update(idempotencyKeys)
      .set({ lockedUntil: sql`now() + make_interval(secs => ${leaseSeconds})` })
      .where(
        and(
          matches(scope),
          eq(idempotencyKeys.state, 'in_flight'),
          lt(idempotencyKeys.lockedUntil, sql`now()`),
        ),
      )
      .returning({ key: idempotencyKeys.key });
    if (taken.length > 0) return { kind: 'claimed' };
    const retryAfterSeconds = Math.max(1, Math.ceil((row.lockedUntil.getTime() - Date.now()) / 1000));
    return { kind: 'in_flight', retryAfterSeconds: Math.min(retryAfterSeconds, 5) };
  }
  return { kind: 'in_flight', retryAfterSeconds: 1 };
}

export async function completeIdempotencyKey(
  db: Executor,
  scope: IdempotencyScope,
  status: number,
  body: unknown,
): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ state: 'done', responseStatus: status, responseBody: body })
    .where(matches(scope));
}

/** A request that failed with a server error releases its key so the client can retry. */
export async function releaseIdempotencyKey(db: Executor, scope: IdempotencyScope): Promise<void> {
  await db.delete(idempotencyKeys).where(and(matches(scope), eq(idempotencyKeys.state, 'in_flight')));
}

/**
 * Deletes at most `limit` expired keys (oldest first, by the expiry index), so that one sweep is
 * one short statement however many expired meanwhile; returns how many went.
 */
export async function deleteExpiredIdempotencyKeys(db: Executor, limit: number): Promise<number> {
  const result = await db.execute(sql`
    DELETE FROM idempotency_keys WHERE ctid IN (
      SELECT ctid FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT ${limit})`);
  return result.rowCount ?? 0;
}

function matches(scope: IdempotencyScope) {
  return and(
    eq(idempotencyKeys.tenantId, scope.tenantId),
    eq(idempotencyKeys.route, scope.route),
    eq(idempotencyKeys.key, scope.key),
  );
}
