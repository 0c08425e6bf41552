import { and, asc, eq, sql } from './orm.js';
import type { CloudEvent } from '../domain/events.js';
import type { Currency } from '../domain/money.js';
import type { PaymentStatus } from '../domain/payment.js';
import {
  refundRefusal,
  type RefundFailureCode,
  type RefundRefusal,
  type RefundStatus,
  type RefundView,
} from '../domain/refund.js';
import type { Executor } from './client.js';
import { insertEvent } from './payments.js';
import { refunds } from './schema.js';

export interface ReserveRefundInput {
  refundId: string;
  tenantId: string;
  paymentId: string;
  workflowId: string;
  /** Omitted: everything still refundable. */
  amount?: number | undefined;
  reason?: string | undefined;
  now: string;
}

export type ReserveRefundResult =
  | {
      ok: true;
      refund: RefundView;
      gatewayAuthorizationId: string | null;
      /** The connector that authorized the payment: the card part is refunded through it. */
      connector: string;
      customerId: string;
    }
  | ({ ok: false } & RefundRefusal);

/**
 * Claims the refund amount with ONE conditional UPDATE on the payment row: it succeeds only
 * while captured − already reserved ≥ amount, and splits the amount between wallet and card
 * (wallet first, see allocateRefund). Concurrent refunds queue on the row lock, so their sum
 * can never pass the captured amount. The refund row is written in the same transaction, and
 * an existing row for this id is returned as is (a retried activity).
 */
export async function reserveRefund(db: Executor, input: ReserveRefundInput): Promise<ReserveRefundResult> {
  return db.transaction(async (tx) => {
    const existing = await findRefund(tx, input.tenantId, input.refundId);
    const payment = await tx.execute(
      sql`SELECT customer_id, gateway_authorization_id, connector, status, currency FROM payments WHERE id = ${input.paymentId} AND tenant_id = ${input.tenantId}`,
    );
    const row = payment.rows[0] as
      | {
          customer_id: string;
          gateway_authorization_id: string | null;
          connector: string;
          status: string;
          currency: string;
        }
      | undefined;
    if (existing && row)
      return {
        ok: true,
        refund: existing,
        gatewayAuthorizationId: row.gateway_authorization_id,
        connector: row.connector,
        customerId: row.customer_id,
      };
    if (!row)
      return { ok: false, code: 'payment_not_captured', message: 'a missing payment cannot be refunded' };
    const refusal = refundRefusal(row.status as PaymentStatus);
    if (refusal) return { ok: false, ...refusal };
    const amount = input.amount ?? null;
    const claimed = await tx.execute(sql`
      WITH p AS (
        SELECT id,
               GREATEST(0, LEAST(amount_captured, amount_from_wallet) - refund_reserved_wallet) AS wallet_room,
               GREATEST(0, amount_captured - LEAST(amount_captured, amount_from_wallet) - refund_reserved_card) AS card_room
        FROM payments WHERE id = ${input.paymentId} FOR UPDATE
      ), a AS (
        SELECT id, wallet_room + card_room AS room,
               LEAST(COALESCE(${amount}::bigint, wallet_room + card_room), wallet_room) AS to_wallet,
               COALESCE(${amount}::bigint, wallet_room + card_room) AS amount
        FROM p
      )
      UPDATE payments SET
        refund_reserved_wallet = refund_reserved_wallet + a.to_wallet,
        refund_reserved_card = refund_reserved_card + (a.amount - a.to_wallet)
      FROM a
      WHERE payments.id = a.id AND payments.status IN ('succeeded', 'partially_refunded')
        AND a.amount > 0 AND a.amount <= a.room
      RETURNING a.amount, a.to_wallet`);
    const claim = claimed.rows[0] as { amount: number; to_wallet: number } | undefined;
    if (!claim) {
      return {
        ok: false,
        code: 'amount_exceeds_refundable',
        message: 'the refund exceeds what is left to refund on this payment',
      };
    }
    const [refund] = await tx
      .insert(refunds)
      .values({
        id: input.refundId,
        tenantId: input.tenantId,
        paymentId: input.paymentId,
        workflowId: input.workflowId,
        amount: claim.amount,
        amountToWallet: claim.to_wallet,
        amountToCard: claim.amount - claim.to_wallet,
        currency: row.currency,
        reason: input.reason ?? null,
        status: 'pending',
        createdAt: new Date(input.now),
        updatedAt: new Date(input.now),
      })
      .returning();
    return {
      ok: true,
      refund: toView(refund!),
      gatewayAuthorizationId: row.gateway_authorization_id,
      connector: row.connector,
      customerId: row.customer_id,
    };
  });
}

export interface SettleRefundInput {
  tenantId: string;
  refundId: string;
  status: Extract<RefundStatus, 'succeeded' | 'failed' | 'requires_attention'>;
  failureCode?: RefundFailureCode | undefined;
  failureMessage?: string | undefined;
  gatewayRefundId?: string | undefined;
  now: string;
  events: CloudEvent[];
}

/**
 * Records a refund's outcome with its events in one transaction. Success adds the amount to the
 * payment (status refunded or partially_refunded, version bumped); failure releases the
 * reservation. Settling an already settled refund changes nothing.
 */
export async function settleRefund(db: Executor, input: SettleRefundInput): Promise<void> {
  await db.transaction(async (tx) => {
    const updated = await tx
      .update(refunds)
      .set({
        status: input.status,
        failureCode: input.failureCode ?? null,
        failureMessage: input.failureMessage ?? null,
        gatewayRefundId: input.gatewayRefundId ?? sql`${refunds.gatewayRefundId}`,
        updatedAt: new Date(input.now),
      })
      .where(and(eq(refunds.id, input.refundId), sql`${refunds.status} IN ('pending', 'requires_attention')`))
      .returning();
    const refund = updated[0];
    if (!refund) return;
    if (input.status === 'succeeded') {
      await tx.execute(sql`
        UPDATE payments SET amount_refunded = amount_refunded + ${refund.amount},
          status = CASE WHEN amount_refunded + ${refund.amount} = amount_captured THEN 'refunded' ELSE 'partially_refunded' END,
          version = version + 1, updated_at = ${input.now}
        WHERE id = ${refund.paymentId}`);
    } else if (input.status === 'failed') {
      await tx.execute(sql`
        UPDATE payments SET refund_reserved_wallet = refund_reserved_wallet - ${refund.amountToWallet},
          refund_reserved_card = refund_reserved_card - ${refund.amountToCard}
        WHERE id = ${refund.paymentId}`);
    }
    for (const event of input.events) await insertEvent(tx, event);
  });
}

export async function setGatewayRefundId(
  db: Executor,
  refundId: string,
  gatewayRefundId: string,
): Promise<void> {
  await db.update(refunds).set({ gatewayRefundId }).where(eq(refunds.id, refundId));
}

export async function findRefund(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<RefundView | undefined> {
  const [row] = await db
    .select()
    .from(refunds)
    .where(and(eq(refunds.tenantId, tenantId), eq(refunds.id, id)));
  return row && toView(row);
}

export async function findRefundByGatewayId(
  db: Executor,
  gatewayRefundId: string,
): Promise<RefundView | undefined> {
  const [row] = await db.select().from(refunds).where(eq(refunds.gatewayRefundId, gatewayRefundId));
  return row && toView(row);
}

export async function listRefunds(db: Executor, tenantId: string, paymentId: string): Promise<RefundView[]> {
  const rows = await db
    .select()
    .from(refunds)
    .where(and(eq(refunds.tenantId, tenantId), eq(refunds.paymentId, paymentId)))
    .orderBy(asc(refunds.createdAt), asc(refunds.id));
  return rows.map(toView);
}

function toView(row: typeof refunds.$inferSelect): RefundView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    paymentId: row.paymentId,
    workflowId: row.workflowId,
    amount: row.amount,
    amountToWallet: row.amountToWallet,
    amountToCard: row.amountToCard,
    currency: row.currency as Currency,
    reason: row.reason ?? undefined,
    status: row.status,
    failureCode: (row.failureCode as RefundFailureCode | null) ?? undefined,
    failureMessage: row.failureMessage ?? undefined,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
