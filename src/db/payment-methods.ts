import { and, desc, eq, isNull, ne, sql } from './orm.js';
import type { Executor } from './client.js';
import { customers, paymentMethods } from './schema.js';
import type { SavedCardUse } from '../domain/payment.js';

type PaymentMethodRow = typeof paymentMethods.$inferSelect;
export type PaymentMethodStatus = PaymentMethodRow['status'];

/** A saved card as stored: the gateway's ids and the card's public details. */
export interface PaymentMethodRecord {
  id: string;
  customerId: string;
  connector: string;
  status: PaymentMethodStatus;
  gatewayMethodId: string;
  gatewaySetupId?: string | undefined;
  gatewayCustomerId?: string | undefined;
  networkTransactionId?: string | undefined;
  card?: { brand: string; last4: string; expMonth: number; expYear: number } | undefined;
  actionUrl?: string | undefined;
  failureCode?: string | undefined;
  failureMessage?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

export type PaymentMethodChanges = Partial<
  Pick<
    PaymentMethodRecord,
    | 'status'
    | 'gatewayCustomerId'
    | 'networkTransactionId'
    | 'card'
    | 'actionUrl'
    | 'failureCode'
    | 'failureMessage'
  >
>;

export async function insertPaymentMethod(
  db: Executor,
  tenantId: string,
  method: Omit<PaymentMethodRecord, 'createdAt' | 'updatedAt'>,
): Promise<PaymentMethodRecord> {
  const now = new Date();
  const [row] = await db
    .insert(paymentMethods)
    .values({
      tenantId,
      ...columns(method),
      id: method.id,
      customerId: method.customerId,
      connector: method.connector,
      status: method.status,
      gatewayMethodId: method.gatewayMethodId,
      gatewaySetupId: method.gatewaySetupId ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return toRecord(row!);
}

export async function findPaymentMethod(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<PaymentMethodRecord | undefined> {
  const [row] = await db
    .select()
    .from(paymentMethods)
    .where(and(eq(paymentMethods.tenantId, tenantId), eq(paymentMethods.id, id)));
  return row && toRecord(row);
}

/** By Paysaga's id alone, with its tenant: what a gateway's webhook names. */
export async function findPaymentMethodForWebhook(
  db: Executor,
  id: string,
): Promise<(PaymentMethodRecord & { tenantId: string }) | undefined> {
  const [row] = await db.select().from(paymentMethods).where(eq(paymentMethods.id, id));
  return row && { ...toRecord(row), tenantId: row.tenantId };
}

/** The customer's methods that are not deleted, newest first. */
export async function listPaymentMethods(
  db: Executor,
  tenantId: string,
  customerId: string,
): Promise<PaymentMethodRecord[]> {
  const rows = await db
    .select()
    .from(paymentMethods)
    .where(
      and(
        eq(paymentMethods.tenantId, tenantId),
        eq(paymentMethods.customerId, customerId),
        ne(paymentMethods.status, 'deleted'),
      ),
    )
    .orderBy(desc(paymentMethods.createdAt), desc(paymentMethods.id));
  return rows.map(toRecord);
}

/** The gateway's customer an earlier save on this connector created, if any. */
export async function findGatewayCustomerId(
  db: Executor,
  tenantId: string,
  customerId: string,
  connector: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ gatewayCustomerId: paymentMethods.gatewayCustomerId })
    .from(paymentMethods)
    .where(
      and(
        eq(paymentMethods.tenantId, tenantId),
        eq(paymentMethods.customerId, customerId),
        eq(paymentMethods.connector, connector),
        sql`${paymentMethods.gatewayCustomerId} IS NOT NULL`,
      ),
    )
    .orderBy(paymentMethods.createdAt)
    .limit(1);
  return row?.gatewayCustomerId ?? undefined;
}

/**
 * Applies what the gateway says of the method; a deleted one stays deleted. Undefined when the
 * method is unknown or deleted.
 */
export async function updatePaymentMethod(
  db: Executor,
  tenantId: string,
  id: string,
  changes: PaymentMethodChanges,
): Promise<PaymentMethodRecord | undefined> {
  const [row] = await db
    .update(paymentMethods)
    .set({
      ...columns(changes),
      ...(changes.status ? { status: changes.status } : {}),
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(paymentMethods.tenantId, tenantId),
        eq(paymentMethods.id, id),
        ne(paymentMethods.status, 'deleted'),
      ),
    )
    .returning();
  return row && toRecord(row);
}

/** Marks it deleted and clears it as its customer's default, in one transaction. */
export async function deletePaymentMethod(db: Executor, tenantId: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(paymentMethods)
      .set({ status: 'deleted', actionUrl: null, updatedAt: new Date() })
      .where(and(eq(paymentMethods.tenantId, tenantId), eq(paymentMethods.id, id)))
      .returning({ customerId: paymentMethods.customerId });
    if (!row) return;
    await tx
      .update(customers)
      .set({ defaultPaymentMethodId: null, updatedAt: new Date() })
      .where(
        and(
          eq(customers.tenantId, tenantId),
          eq(customers.id, row.customerId),
          eq(customers.defaultPaymentMethodId, id),
        ),
      );
  });
}

/** Sets the customer's default unless one is set already; true when this one is now the default. */
export async function setDefaultIfNone(db: Executor, tenantId: string, customerId: string, id: string) {
  const rows = await db
    .update(customers)
    .set({ defaultPaymentMethodId: id, updatedAt: new Date() })
    .where(
      and(
        eq(customers.tenantId, tenantId),
        eq(customers.id, customerId),
        isNull(customers.defaultPaymentMethodId),
      ),
    )
    .returning({ id: customers.id });
  return rows.length > 0;
}

/** A stored method as a payment or top-up charges it: the gateway's ids and the card's expiry. */
export function savedCardUse(
  record: PaymentMethodRecord,
  card: { expMonth: number; expYear: number },
  offSession: boolean,
): SavedCardUse {
  return {
    paymentMethodId: record.id,
    offSession,
    gatewayCustomerId: record.gatewayCustomerId,
    networkTransactionId: record.networkTransactionId,
    expMonth: card.expMonth,
    expYear: card.expYear,
  };
}

function columns(changes: PaymentMethodChanges) {
  const { card } = changes;
  return {
    ...(changes.gatewayCustomerId !== undefined ? { gatewayCustomerId: changes.gatewayCustomerId } : {}),
    ...(changes.networkTransactionId !== undefined
      ? { networkTransactionId: changes.networkTransactionId }
      : {}),
    ...(card ? { brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear } : {}),
    ...('actionUrl' in changes ? { actionUrl: changes.actionUrl ?? null } : {}),
    ...(changes.failureCode !== undefined ? { failureCode: changes.failureCode } : {}),
    ...(changes.failureMessage !== undefined ? { failureMessage: changes.failureMessage } : {}),
  };
}

function toRecord(row: PaymentMethodRow): PaymentMethodRecord {
  const card =
    row.brand !== null && row.last4 !== null && row.expMonth !== null && row.expYear !== null
      ? { brand: row.brand, last4: row.last4, expMonth: row.expMonth, expYear: row.expYear }
      : undefined;
  return {
    id: row.id,
    customerId: row.customerId,
    connector: row.connector,
    status: row.status,
    gatewayMethodId: row.gatewayMethodId,
    gatewaySetupId: row.gatewaySetupId ?? undefined,
    gatewayCustomerId: row.gatewayCustomerId ?? undefined,
    networkTransactionId: row.networkTransactionId ?? undefined,
    card,
    actionUrl: row.actionUrl ?? undefined,
    failureCode: row.failureCode ?? undefined,
    failureMessage: row.failureMessage ?? undefined,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
