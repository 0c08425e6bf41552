import { and, eq, sql } from './orm.js';
import type { Executor } from './client.js';
import { walletAutoTopUpRuns, walletAutoTopUps } from './schema.js';
import type { Currency } from '../domain/money.js';

/** A wallet's automatic top-up: when a payment would leave it short, `amount` from a saved card. */
export interface AutoTopUpRecord {
  customerId: string;
  currency: Currency;
  /** Top up when a payment would leave less than this available (or could not be paid at all). */
  threshold: number;
  amount: number;
  /** The most the wallet is topped up automatically in one UTC day. */
  dailyLimit: number;
  paymentMethodId: string;
  createdAt: string;
  updatedAt: string;
}

type AutoTopUpRow = typeof walletAutoTopUps.$inferSelect;

export async function upsertAutoTopUp(
  db: Executor,
  tenantId: string,
  settings: Omit<AutoTopUpRecord, 'createdAt' | 'updatedAt'>,
): Promise<AutoTopUpRecord> {
  const now = new Date();
  const values = {
    currency: settings.currency,
    threshold: settings.threshold,
    amount: settings.amount,
    dailyLimit: settings.dailyLimit,
    paymentMethodId: settings.paymentMethodId,
  };
  const [row] = await db
    .insert(walletAutoTopUps)
    .values({ tenantId, customerId: settings.customerId, ...values, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [walletAutoTopUps.tenantId, walletAutoTopUps.customerId],
      set: { ...values, updatedAt: now },
    })
    .returning();
  return toRecord(row!);
}

export async function findAutoTopUp(
  db: Executor,
  tenantId: string,
  customerId: string,
): Promise<AutoTopUpRecord | undefined> {
  const [row] = await db
    .select()
    .from(walletAutoTopUps)
    .where(and(eq(walletAutoTopUps.tenantId, tenantId), eq(walletAutoTopUps.customerId, customerId)));
  return row && toRecord(row);
}

/** True when there was one to delete. */
export async function deleteAutoTopUp(db: Executor, tenantId: string, customerId: string): Promise<boolean> {
  const rows = await db
    .delete(walletAutoTopUps)
    .where(and(eq(walletAutoTopUps.tenantId, tenantId), eq(walletAutoTopUps.customerId, customerId)))
    .returning({ customerId: walletAutoTopUps.customerId });
  return rows.length > 0;
}

export type AutoTopUpRunStatus = (typeof walletAutoTopUpRuns.$inferSelect)['status'];

/**
 * Reserves the payment's automatic top-up against the day's limit: `limit` when the day's
 * reserved and succeeded top-ups leave no room for it. One per payment: a retried reservation
 * answers `reserved` again, and one for a payment whose top-up has ended answers `done`. Reservations of one wallet are serialized by a
 * transaction-scoped advisory lock, so two payments cannot both take the day's last room.
 */
export async function reserveAutoTopUpRun(
  db: Executor,
  run: {
    tenantId: string;
    paymentId: string;
    customerId: string;
    currency: Currency;
    amount: number;
    day: string;
    dailyLimit: number;
  },
): Promise<'reserved' | 'done' | 'limit'> {
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`SELECT pg_advisory_xact_lock(hashtextextended(${`auto-top-up:${run.tenantId}:${run.customerId}`}, 0))`,
    );
    const [existing] = await tx
      .select({ status: walletAutoTopUpRuns.status })
      .from(walletAutoTopUpRuns)
      .where(
        and(eq(walletAutoTopUpRuns.tenantId, run.tenantId), eq(walletAutoTopUpRuns.paymentId, run.paymentId)),
      );
    if (existing) return existing.status === 'reserved' ? 'reserved' : 'done';
    const [used] = await tx
      .select({ total: sql<string>`COALESCE(SUM(${walletAutoTopUpRuns.amount}), 0)` })
      .from(walletAutoTopUpRuns)
      .where(
        and(
          eq(walletAutoTopUpRuns.tenantId, run.tenantId),
          eq(walletAutoTopUpRuns.customerId, run.customerId),
          eq(walletAutoTopUpRuns.day, run.day),
          sql`${walletAutoTopUpRuns.status} IN ('reserved', 'succeeded')`,
        ),
      );
    if (Number(used?.total ?? 0) + run.amount > run.dailyLimit) return 'limit';
    await tx.insert(walletAutoTopUpRuns).values({
      tenantId: run.tenantId,
      paymentId: run.paymentId,
      customerId: run.customerId,
      currency: run.currency,
      amount: run.amount,
      day: run.day,
      status: 'reserved',
    });
    return 'reserved';
  });
}

/** How the payment's automatic top-up ended; a failed or reversed one frees its room in the day. */
export async function settleAutoTopUpRun(
  db: Executor,
  tenantId: string,
  paymentId: string,
  status: Exclude<AutoTopUpRunStatus, 'reserved'>,
): Promise<void> {
  await db
    .update(walletAutoTopUpRuns)
    .set({ status })
    .where(and(eq(walletAutoTopUpRuns.tenantId, tenantId), eq(walletAutoTopUpRuns.paymentId, paymentId)));
}

function toRecord(row: AutoTopUpRow): AutoTopUpRecord {
  return {
    customerId: row.customerId,
    currency: row.currency as Currency,
    threshold: row.threshold,
    amount: row.amount,
    dailyLimit: row.dailyLimit,
    paymentMethodId: row.paymentMethodId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
