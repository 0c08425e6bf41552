import { and, desc, eq, lt, or } from './orm.js';
import type { Executor } from './client.js';
import { customers } from './schema.js';

type CustomerRow = typeof customers.$inferSelect;

/** A customer as stored: `email` and `name` absent when not set. */
export interface CustomerRecord {
  id: string;
  email?: string | undefined;
  name?: string | undefined;
  metadata: Record<string, string>;
  /** The saved payment method a payment uses when it names none. */
  defaultPaymentMethodId?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** The new customer, or undefined when the tenant has one with this id already (nothing changes). */
export async function insertCustomer(
  db: Executor,
  tenantId: string,
  customer: {
    id: string;
    email?: string | undefined;
    name?: string | undefined;
    metadata: Record<string, string>;
  },
): Promise<CustomerRecord | undefined> {
  const now = new Date();
  const [row] = await db
    .insert(customers)
    .values({
      tenantId,
      id: customer.id,
      email: customer.email ?? null,
      name: customer.name ?? null,
      metadata: customer.metadata,
      // Milliseconds, as the list's cursor carries them: a microsecond more would skip a row.
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning();
  return row && toRecord(row);
}

export async function findCustomer(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<CustomerRecord | undefined> {
  const [row] = await db
    .select()
    .from(customers)
    .where(and(eq(customers.tenantId, tenantId), eq(customers.id, id)));
  return row && toRecord(row);
}

/**
 * Sets the given fields (null clears email or name; metadata replaces the whole map) in one
 * UPDATE. Undefined for an unknown customer.
 */
export async function updateCustomer(
  db: Executor,
  tenantId: string,
  id: string,
  changes: {
    email?: string | null;
    name?: string | null;
    metadata?: Record<string, string>;
    defaultPaymentMethodId?: string | null;
  },
): Promise<CustomerRecord | undefined> {
  const [row] = await db
    .update(customers)
    .set({ ...changes, updatedAt: new Date() })
    .where(and(eq(customers.tenantId, tenantId), eq(customers.id, id)))
    .returning();
  return row && toRecord(row);
}

/** The tenant's customers, newest first, after the cursor's position. */
export async function listCustomers(
  db: Executor,
  tenantId: string,
  query: { limit: number; after?: { createdAt: string; id: string } | undefined },
): Promise<CustomerRecord[]> {
  const { after } = query;
  const rows = await db
    .select()
    .from(customers)
    .where(
      and(
        eq(customers.tenantId, tenantId),
        after
          ? or(
              lt(customers.createdAt, new Date(after.createdAt)),
              and(eq(customers.createdAt, new Date(after.createdAt)), lt(customers.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(customers.createdAt), desc(customers.id))
    .limit(query.limit);
  return rows.map(toRecord);
}

function toRecord(row: CustomerRow): CustomerRecord {
  return {
    id: row.id,
    email: row.email ?? undefined,
    name: row.name ?? undefined,
    metadata: row.metadata,
    defaultPaymentMethodId: row.defaultPaymentMethodId ?? undefined,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
