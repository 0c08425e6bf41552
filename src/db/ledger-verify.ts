import { sql } from './orm.js';
import type { Executor } from './client.js';

export interface LedgerViolation {
  rule: 'debits_equal_credits' | 'wallet_not_negative' | 'balance_matches_transfers';
  detail: string;
}

/**
 * Checks the design's invariants from first principles: per currency, debits equal credits
 * (posted and pending); no wallet below zero; every account's running balances equal the sums
 * of its transfers.
 */
export async function verifyLedger(db: Executor): Promise<LedgerViolation[]> {
  const violations: LedgerViolation[] = [];
  const totals = await db.execute(sql`
    SELECT currency, SUM(debits_posted) AS dp, SUM(credits_posted) AS cp, SUM(debits_pending) AS dq, SUM(credits_pending) AS cq
    FROM ledger_accounts GROUP BY currency`);
  for (const row of totals.rows as { currency: string; dp: string; cp: string; dq: string; cq: string }[]) {
    if (row.dp !== row.cp || row.dq !== row.cq) {
      violations.push({
        rule: 'debits_equal_credits',
        detail: `${row.currency}: posted debits ${row.dp} / credits ${row.cp}, pending debits ${row.dq} / credits ${row.cq}`,
      });
    }
  }
  const negative = await db.execute(sql`
    SELECT id, credits_posted - debits_posted - debits_pending AS available FROM ledger_accounts
    WHERE kind = 'wallet' AND credits_posted - debits_posted - debits_pending < 0`);
  for (const row of negative.rows as { id: string; available: number }[]) {
    violations.push({ rule: 'wallet_not_negative', detail: `${row.id} available ${row.available}` });
  }
  const mismatched = await db.execute(sql`
    WITH flows AS (
      SELECT debit_account_id AS account,
             CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END AS dp, 0 AS cp,
             CASE WHEN kind = 'pending' AND state = 'pending' THEN amount ELSE 0 END AS dq, 0 AS cq
      FROM ledger_transfers
      UNION ALL
      SELECT credit_account_id, 0, CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END,
             0, CASE WHEN kind = 'pending' AND state = 'pending' THEN amount ELSE 0 END
      FROM ledger_transfers
    ), sums AS (
      SELECT account, SUM(dp) AS dp, SUM(cp) AS cp, SUM(dq) AS dq, SUM(cq) AS cq FROM flows GROUP BY account
    )
    SELECT a.id FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id
    WHERE a.debits_posted <> COALESCE(s.dp, 0) OR a.credits_posted <> COALESCE(s.cp, 0)
       OR a.debits_pending <> COALESCE(s.dq, 0) OR a.credits_pending <> COALESCE(s.cq, 0)`);
  for (const row of mismatched.rows as { id: string }[]) {
    violations.push({
      rule: 'balance_matches_transfers',
      detail: `${row.id} balances differ from the sum of its transfers`,
    });
  }
  return violations;
}
