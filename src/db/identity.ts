import { and, asc, desc, eq, lt, sql } from './orm.js';
import type { CloudEvent } from '../domain/events.js';
import type { Executor } from './client.js';
import { insertEvent } from './payments.js';
import { apiKeys, auditLog, tenants } from './schema.js';

/** What every API process listens on: a tenant or a key changed, reload them (src/app/identity.ts). */
export const IDENTITY_CHANNEL = 'paysaga_identity';

export type TenantRow = typeof tenants.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
export type NewAuditRow = Omit<typeof auditLog.$inferInsert, 'seq'>;

/** Every stored tenant and key (revoked keys too: a use after revocation is audited). */
export async function loadIdentity(db: Executor): Promise<{ tenants: TenantRow[]; keys: ApiKeyRow[] }> {
  const [tenantRows, keyRows] = await Promise.all([
    db.select().from(tenants),
    db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt)),
  ]);
  return { tenants: tenantRows, keys: keyRows };
}

export async function listTenantRows(db: Executor): Promise<TenantRow[]> {
  return db.select().from(tenants).orderBy(asc(tenants.id));
}

/** The tenant's row; `forUpdate` (inside a transaction) holds it until the transaction ends. */
export async function findTenantRow(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<TenantRow | undefined> {
  const query = db.select().from(tenants).where(eq(tenants.id, id));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row;
}

/** Inserts the tenant unless its id is taken; whether it did. */
export async function insertTenant(
  db: Executor,
  row: typeof tenants.$inferInsert,
): Promise<TenantRow | undefined> {
  const [inserted] = await db.insert(tenants).values(row).onConflictDoNothing().returning();
  return inserted;
}

export async function updateTenant(
  db: Executor,
  id: string,
  values: Pick<TenantRow, 'name' | 'status' | 'settings'>,
): Promise<TenantRow | undefined> {
  const [row] = await db
    .update(tenants)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(tenants.id, id))
    .returning();
  return row;
}

export async function insertApiKey(db: Executor, row: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [inserted] = await db.insert(apiKeys).values(row).returning();
  if (!inserted) throw new Error('the API key was not stored');
  return inserted;
}

export async function findApiKey(db: Executor, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id)))
    .for('update');
  return row;
}

export async function findApiKeyByHash(db: Executor, hash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, hash));
  return row;
}

export async function listApiKeys(db: Executor, tenantId: string): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt));
}

export async function setKeyExpiry(
  db: Executor,
  id: string,
  expiresAt: Date,
): Promise<ApiKeyRow | undefined> {
  const [row] = await db.update(apiKeys).set({ expiresAt }).where(eq(apiKeys.id, id)).returning();
  return row;
}

export async function revokeApiKey(db: Executor, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row;
}

/**
 * Tells every API process that tenants or keys changed. Inside a transaction PostgreSQL delivers
 * the notice when it commits, so no process reloads what another cannot see yet.
 */
export async function notifyIdentityChanged(db: Executor, what: string): Promise<void> {
  await db.execute(sql`SELECT pg_notify(${IDENTITY_CHANNEL}, ${what})`);
}

/** An audit record and its event on the outbox, in the caller's transaction. */
export async function insertAudit(db: Executor, row: NewAuditRow, event: CloudEvent): Promise<void> {
  await db.insert(auditLog).values(row);
  await insertEvent(db, event);
}

/** Audit records, newest first, after the cursor `beforeSeq`. */
export async function listAudit(
  db: Executor,
  filter: {
    tenantId?: string | undefined;
    action?: string | undefined;
    beforeSeq?: number | undefined;
    limit: number;
  },
): Promise<AuditRow[]> {
  const conditions = [
    filter.tenantId !== undefined ? eq(auditLog.tenantId, filter.tenantId) : undefined,
    filter.action !== undefined ? eq(auditLog.action, filter.action) : undefined,
    filter.beforeSeq !== undefined ? lt(auditLog.seq, filter.beforeSeq) : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(auditLog)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(filter.limit);
}
