import { sql, type SQL } from 'drizzle-orm';
import type { Currency } from '../domain/money.js';
import type { Executor } from './client.js';

export type LedgerErrorCode =
  | 'insufficient_funds'
  | 'exists_with_different_fields'
  | 'account_not_found'
  | 'currency_mismatch'
  | 'pending_not_found'
  | 'pending_already_settled'
  | 'pending_expired'
  | 'amount_exceeds_pending';

/** A ledger rule refused the transfer; nothing was written. */
export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

export interface AccountSpec {
  id: string;
  tenantId: string;
  kind: 'wallet' | 'system';
  customerId?: string | undefined;
  code: string;
  currency: Currency;
}

export type TransferInput =
  | {
      kind: 'single' | 'pending';
      id: string;
      tenantId: string;
      debitAccountId: string;
      creditAccountId: string;
      amount: number;
      currency: Currency;
      /** Reserve or move at most what the debit account has available (TigerBeetle's balancing debit). */
      upToAvailable?: boolean;
      expiresAt?: Date | undefined;
      description?: string | undefined;
    }
  | { kind: 'post'; id: string; tenantId: string; pendingId: string; amount?: number | undefined }
  | { kind: 'void'; id: string; tenantId: string; pendingId: string };

export interface Transfer {
  id: string;
  kind: 'single' | 'pending' | 'post' | 'void';
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
  currency: Currency;
  pendingId: string | null;
  state: 'posted' | 'pending' | 'settled';
  createdAt: string;
}

export interface TransferResult {
  transfer: Transfer;
  /** True when this id had been applied before and the first result is returned. */
  replayed: boolean;
}

const TRANSFER_COLUMNS = sql.raw(
  `id, kind, debit_account_id AS "debitAccountId", credit_account_id AS "creditAccountId", amount, currency,
   pending_id AS "pendingId", state, expires_at AS "expiresAt", created_at AS "createdAt"`,
);

async function rows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result = await db.execute(query);
  return result.rows as T[];
}

/** Creates accounts that do not exist yet; wallets get the no-overdraft flag. */
export async function ensureAccounts(db: Executor, accounts: AccountSpec[]): Promise<void> {
  for (const a of accounts) {
    await db.execute(sql`
      INSERT INTO ledger_accounts (id, tenant_id, kind, customer_id, code, currency, no_overdraft)
      VALUES (${a.id}, ${a.tenantId}, ${a.kind}, ${a.customerId ?? null}, ${a.code}, ${a.currency}, ${a.kind === 'wallet' ? 1 : 0})
      ON CONFLICT (id) DO NOTHING`);
  }
}

/**
 * Applies one transfer atomically. The same id twice returns the first result; the same id with
 * other fields is refused. Balances change in the same transaction as the transfer row, and the
 * wallet CHECK constraint refuses an overdraft, so two concurrent debits can never both pass.
 */
export async function createTransfer(db: Executor, input: TransferInput): Promise<TransferResult> {
  return inLedgerTransaction(db, (tx) => applyTransfer(tx, input));
}

/**
 * Runs `work` in one transaction, with an overdraft refused by the wallet CHECK constraint
 * reported as `insufficient_funds` (the whole transaction, not just the transfer, is undone).
 */
export async function inLedgerTransaction<T>(db: Executor, work: (tx: Executor) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(work);
  } catch (error) {
    if (isCheckViolation(error, 'ledger_accounts_no_overdraft')) {
      throw new LedgerError('insufficient_funds', 'the debit account has insufficient available funds');
    }
    throw error;
  }
}

/** One transfer inside the caller's transaction (see `createTransfer`). */
export async function applyTransfer(tx: Executor, input: TransferInput): Promise<TransferResult> {
  switch (input.kind) {
    case 'single':
    case 'pending':
      return createDirect(tx, input);
    case 'post':
    case 'void':
      return settlePending(tx, input);
  }
}

async function createDirect(
  tx: Executor,
  t: Extract<TransferInput, { kind: 'single' | 'pending' }>,
): Promise<TransferResult> {
  let amount = t.amount;
  if (t.upToAvailable) {
    // The row lock also serializes concurrent balancing debits on this account.
    const [account] = await rows<{ available: number }>(
      tx,
      sql`SELECT credits_posted - debits_posted - debits_pending AS available FROM ledger_accounts
          WHERE id = ${t.debitAccountId} FOR UPDATE`,
    );
    if (account) amount = Math.max(0, Math.min(t.amount, account.available));
  }
  const state = t.kind === 'pending' ? 'pending' : 'posted';
  const [inserted] = await rows<Transfer>(
    tx,
    sql`INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, state, expires_at, description)
        VALUES (${t.id}, ${t.tenantId}, ${t.kind}, ${t.debitAccountId}, ${t.creditAccountId}, ${amount}, ${t.currency}, ${state},
                ${t.expiresAt?.toISOString() ?? null}, ${t.description ?? null})
        ON CONFLICT (id) DO NOTHING RETURNING ${TRANSFER_COLUMNS}`,
  );
  if (!inserted) {
    const existing = await findTransfer(tx, t.id);
    const same =
      existing &&
      existing.kind === t.kind &&
      existing.debitAccountId === t.debitAccountId &&
      existing.creditAccountId === t.creditAccountId &&
      existing.currency === t.currency &&
      (t.upToAvailable ? existing.amount <= t.amount : existing.amount === t.amount);
    if (!same)
      throw new LedgerError('exists_with_different_fields', `transfer ${t.id} exists with different fields`);
    return { transfer: existing, replayed: true };
  }
  const column = t.kind === 'pending' ? 'pending' : 'posted';
  await applyToAccounts(tx, t.debitAccountId, t.creditAccountId, t.currency, {
    [`debits_${column}`]: amount,
    [`credits_${column}`]: amount,
  });
  return { transfer: inserted, replayed: false };
}

async function settlePending(
  tx: Executor,
  t: Extract<TransferInput, { kind: 'post' | 'void' }>,
): Promise<TransferResult> {
  // Locking the pending row first serializes every post/void racing for it.
  const [pending] = await rows<Transfer & { expiresAt: string | null }>(
    tx,
    sql`SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ${t.pendingId} AND kind = 'pending' FOR UPDATE`,
  );
  if (!pending) throw new LedgerError('pending_not_found', `pending transfer ${t.pendingId} not found`);
  const existing = await findTransfer(tx, t.id);
  const amount = t.kind === 'void' ? pending.amount : (t.amount ?? pending.amount);
  if (existing) {
    const same = existing.kind === t.kind && existing.pendingId === t.pendingId && existing.amount === amount;
    if (!same)
      throw new LedgerError('exists_with_different_fields', `transfer ${t.id} exists with different fields`);
    return { transfer: existing, replayed: true };
  }
  if (pending.state !== 'pending') {
    throw new LedgerError(
      'pending_already_settled',
      `pending transfer ${t.pendingId} is already posted or voided`,
    );
  }
  if (t.kind === 'post' && pending.expiresAt && new Date(pending.expiresAt).getTime() <= Date.now()) {
    throw new LedgerError('pending_expired', `pending transfer ${t.pendingId} has expired`);
  }
  if (amount > pending.amount)
    throw new LedgerError('amount_exceeds_pending', 'amount exceeds the pending amount');
  const [inserted] = await rows<Transfer>(
    tx,
    sql`INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, state)
        VALUES (${t.id}, ${t.tenantId}, ${t.kind}, ${pending.debitAccountId}, ${pending.creditAccountId}, ${amount},
                ${pending.currency}, ${t.pendingId}, 'posted')
        RETURNING ${TRANSFER_COLUMNS}`,
  );
  await tx.execute(sql`UPDATE ledger_transfers SET state = 'settled' WHERE id = ${t.pendingId}`);
  const posted = t.kind === 'post' ? amount : 0;
  await applyToAccounts(tx, pending.debitAccountId, pending.creditAccountId, pending.currency, {
    debits_pending: -pending.amount,
    credits_pending: -pending.amount,
    debits_posted: posted,
    credits_posted: posted,
  });
  return { transfer: inserted!, replayed: false };
}

/** A pending transfer and its posting in full, written at once (`holdAndPost`). */
export interface HoldAndPostInput {
  holdId: string;
  postId: string;
  tenantId: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
  currency: Currency;
  description?: string | undefined;
}

/**
 * A pending transfer posted in full at once, inside the caller's transaction: the same rows as
 * `pending` then `post` (the hold, settled, and its posting) and the same balances, in three
 * statements instead of nine, with the hot credit account locked only at the end. The same ids
 * again change nothing and report `replayed`; ids taken by other transfers are refused.
 */
export async function holdAndPost(tx: Executor, t: HoldAndPostInput): Promise<{ replayed: boolean }> {
  let inserted: { id: string }[];
  try {
    inserted = await rows<{ id: string }>(
      tx,
      sql`INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, state, description)
        VALUES (${t.holdId}, ${t.tenantId}, 'pending', ${t.debitAccountId}, ${t.creditAccountId}, ${t.amount}, ${t.currency}, NULL, 'settled', ${t.description ?? null}),
               (${t.postId}, ${t.tenantId}, 'post', ${t.debitAccountId}, ${t.creditAccountId}, ${t.amount}, ${t.currency}, ${t.holdId}, 'posted', NULL)
        ON CONFLICT (id) DO NOTHING RETURNING id`,
    );
  } catch (error) {
    // The hold exists and another transfer already posted or voided it.
    if (isViolation(error, UNIQUE_VIOLATION, 'ledger_transfers_settles_once'))
      throw new LedgerError(
        'pending_already_settled',
        `pending transfer ${t.holdId} is already posted or voided`,
      );
    throw error;
  }
  if (inserted.length < 2) {
    const [hold, post] = await Promise.all([findTransfer(tx, t.holdId), findTransfer(tx, t.postId)]);
    const same =
      inserted.length === 0 &&
      hold?.kind === 'pending' &&
      hold.state === 'settled' &&
      hold.debitAccountId === t.debitAccountId &&
      hold.creditAccountId === t.creditAccountId &&
      hold.currency === t.currency &&
      hold.amount === t.amount &&
      post?.kind === 'post' &&
      post.pendingId === t.holdId &&
      post.amount === t.amount;
    if (!same) {
      const taken = inserted.some((row) => row.id === t.holdId) ? t.postId : t.holdId;
      throw new LedgerError('exists_with_different_fields', `transfer ${taken} exists with different fields`);
    }
    return { replayed: true };
  }
  await applyToAccounts(tx, t.debitAccountId, t.creditAccountId, t.currency, {
    debits_posted: t.amount,
    credits_posted: t.amount,
  });
  return { replayed: false };
}

type Deltas = Partial<
  Record<'debits_posted' | 'credits_posted' | 'debits_pending' | 'credits_pending', number>
>;

/** Updates both accounts in id order so concurrent transfers between the same accounts never deadlock. */
async function applyToAccounts(
  tx: Executor,
  debitId: string,
  creditId: string,
  currency: Currency,
  deltas: Deltas,
) {
  const debitSide = { debits_posted: deltas.debits_posted ?? 0, debits_pending: deltas.debits_pending ?? 0 };
  const creditSide = {
    credits_posted: deltas.credits_posted ?? 0,
    credits_pending: deltas.credits_pending ?? 0,
  };
  const updates = [
    {
      id: debitId,
      set: sql`debits_posted = debits_posted + ${debitSide.debits_posted}, debits_pending = debits_pending + ${debitSide.debits_pending}`,
    },
    {
      id: creditId,
      set: sql`credits_posted = credits_posted + ${creditSide.credits_posted}, credits_pending = credits_pending + ${creditSide.credits_pending}`,
    },
  ].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const update of updates) {
    const found = await rows<{ currency: string }>(
      tx,
      sql`UPDATE ledger_accounts SET ${update.set} WHERE id = ${update.id} RETURNING currency`,
    );
    if (found.length === 0) throw new LedgerError('account_not_found', `account ${update.id} not found`);
    if (found[0]!.currency !== currency)
      throw new LedgerError('currency_mismatch', `account ${update.id} is not in ${currency}`);
  }
}

export async function findTransfer(db: Executor, id: string): Promise<Transfer | undefined> {
  const [found] = await rows<Transfer>(
    db,
    sql`SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ${id}`,
  );
  return found;
}

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';

function isCheckViolation(error: unknown, constraint: string): boolean {
  return isViolation(error, CHECK_VIOLATION, constraint);
}

function isViolation(error: unknown, code: string, constraint: string): boolean {
  const cause = error instanceof Error && 'cause' in error ? error.cause : error;
  for (const e of [error, cause]) {
    if (
      e &&
      typeof e === 'object' &&
      'code' in e &&
      e.code === code &&
      'constraint' in e &&
      e.constraint === constraint
    ) {
      return true;
    }
  }
  return false;
}
