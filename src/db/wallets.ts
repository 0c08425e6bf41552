import { sql } from './orm.js';
import type { Executor } from './client.js';

export interface WalletBalance {
  currency: string;
  available: number;
  pending: number;
}

export async function getWalletBalances(
  db: Executor,
  tenantId: string,
  customerId: string,
): Promise<WalletBalance[]> {
  const result = await db.execute(sql`
    SELECT currency, credits_posted - debits_posted - debits_pending AS available, debits_pending AS pending
    FROM ledger_accounts WHERE tenant_id = ${tenantId} AND kind = 'wallet' AND customer_id = ${customerId}
    ORDER BY currency`);
  return result.rows as unknown as WalletBalance[];
}

export interface WalletTransaction {
  id: string;
  seq: number;
  kind: string;
  direction: 'credit' | 'debit';
  amount: number;
  currency: string;
  state: string;
  description: string | null;
  createdAt: string;
}

/** A wallet's transfers, newest first; `before` is the seq cursor of the last row already seen. */
export async function listWalletTransactions(
  db: Executor,
  tenantId: string,
  customerId: string,
  options: { limit: number; before?: number | undefined },
): Promise<WalletTransaction[]> {
  const result = await db.execute(sql`
    SELECT t.id, t.seq, t.kind, CASE WHEN t.credit_account_id = a.id THEN 'credit' ELSE 'debit' END AS direction,
           t.amount, t.currency, t.state, t.description, t.created_at AS "createdAt"
    FROM ledger_accounts a
    JOIN ledger_transfers t ON t.debit_account_id = a.id OR t.credit_account_id = a.id
    WHERE a.tenant_id = ${tenantId} AND a.kind = 'wallet' AND a.customer_id = ${customerId}
      AND (${options.before ?? null}::bigint IS NULL OR t.seq < ${options.before ?? null}::bigint)
    ORDER BY t.seq DESC LIMIT ${options.limit}`);
  return result.rows as unknown as WalletTransaction[];
}
