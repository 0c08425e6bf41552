import { sql } from './orm.js';
import type { SQL } from 'drizzle-orm';
import type { Currency } from '../domain/money.js';
import type { Executor } from './client.js';
import { CachedStatement, prefixed, unprefixed } from './statement.js';

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

/** Creates accounts that do not exist yet (one statement); wallets get the no-overdraft flag. */
export async function ensureAccounts(db: Executor, accounts: AccountSpec[]): Promise<void> {
  if (accounts.length === 0) return;
  const values = accounts.map(
    (a) =>
      sql`(${a.id}, ${a.tenantId}, ${a.kind}, ${a.customerId ?? null}, ${a.code}, ${a.currency}, ${a.kind === 'wallet' ? 1 : 0})`,
  );
  await db.execute(sql`
    INSERT INTO ledger_accounts (id, tenant_id, kind, customer_id, code, currency, no_overdraft)
    VALUES ${sql.join(values, sql`, `)}
    ON CONFLICT (id) DO NOTHING`);
}

/**
 * Applies one transfer atomically. The same id twice returns the first result; the same id with
 * other fields is refused. Balances change in the same statement or transaction as the transfer
 * row, and the wallet CHECK constraint refuses an overdraft, so two concurrent debits can never
 * both pass. A single or pending transfer is one statement; a balancing debit, a post or a void
 * reads first and runs in a transaction.
 */
export async function createTransfer(
  db: Executor,
  input: TransferInput,
  /**
   * Other writes of the same change (a single or pending transfer only), run in its statement:
   * they commit with it or not at all. They also run when the transfer is replayed, so they
   * must be idempotent (the payment row is version-guarded, events are written by id).
   */
  alongside: readonly Writes[] = [],
): Promise<TransferResult> {
  if ((input.kind === 'single' || input.kind === 'pending') && !input.upToAvailable)
    return refusingOverdraft(createDirect(db, input, alongside));
  if (alongside.length > 0) throw new Error(`a ${input.kind} transfer takes no writes alongside it`);
  return inLedgerTransaction(db, (tx) => applyTransfer(tx, input));
}

/** A data-modifying statement not yet run (a drizzle insert, update or delete). */
type Writes = { getSQL(): SQL };

/** The writes as the first CTEs of a statement: `alongside_0 AS (...), ...`. */
function withAlongside(alongside: readonly Writes[]): SQL[] {
  // getSQL(): the statement itself (a query builder put in a template would be a parenthesized subquery).
  return alongside.map((write, i) => sql`${sql.raw(`alongside_${i}`)} AS (${write.getSQL()})`);
}

/**
 * Runs `work` in one transaction, with an overdraft refused by the wallet CHECK constraint
 * reported as `insufficient_funds` (the whole transaction, not just the transfer, is undone).
 */
export async function inLedgerTransaction<T>(db: Executor, work: (tx: Executor) => Promise<T>): Promise<T> {
  return refusingOverdraft(db.transaction(work));
}

/** The ledger's refusals raised by PostgreSQL (constraints, ledger_apply_balances) as LedgerErrors. */
async function refusingOverdraft<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isViolation(error, CHECK_VIOLATION, 'ledger_accounts_no_overdraft'))
      throw new LedgerError('insufficient_funds', 'the debit account has insufficient available funds');
    const raised = sqlState(error);
    if (raised === ACCOUNT_NOT_FOUND || raised === CURRENCY_MISMATCH)
      throw new LedgerError(
        raised === ACCOUNT_NOT_FOUND ? 'account_not_found' : 'currency_mismatch',
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error),
      );
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
  alongside: readonly Writes[] = [],
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
  const column = t.kind === 'pending' ? 'pending' : 'posted';
  // The row and its balances in one statement: an id already taken inserts nothing and so
  // changes no balance.
  const [inserted] = await rows<Transfer>(
    tx,
    sql`WITH ${sql.join([...withAlongside(alongside), sql`inserted`], sql`, `)} AS (
          INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, state, expires_at, description)
          VALUES (${t.id}, ${t.tenantId}, ${t.kind}, ${t.debitAccountId}, ${t.creditAccountId}, ${amount}, ${t.currency}, ${state},
                  ${t.expiresAt?.toISOString() ?? null}, ${t.description ?? null})
          ON CONFLICT (id) DO NOTHING RETURNING ${TRANSFER_COLUMNS})
        SELECT inserted.*, ${applyBalances(t.debitAccountId, t.creditAccountId, t.currency, {
          [`debits_${column}`]: amount,
          [`credits_${column}`]: amount,
        })} FROM inserted`,
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
  return { transfer: transferOf(inserted), replayed: false };
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
  const posted = t.kind === 'post' ? amount : 0;
  // The settling transfer, the pending one marked settled and the balances: one statement.
  const [inserted] = await rows<Transfer>(
    tx,
    sql`WITH settled AS (UPDATE ledger_transfers SET state = 'settled' WHERE id = ${t.pendingId}),
        inserted AS (
          INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, state)
          VALUES (${t.id}, ${t.tenantId}, ${t.kind}, ${pending.debitAccountId}, ${pending.creditAccountId}, ${amount},
                  ${pending.currency}, ${t.pendingId}, 'posted')
          RETURNING ${TRANSFER_COLUMNS})
        SELECT inserted.*, ${applyBalances(
          pending.debitAccountId,
          pending.creditAccountId,
          pending.currency,
          {
            debits_pending: -pending.amount,
            credits_pending: -pending.amount,
            debits_posted: posted,
            credits_posted: posted,
          },
        )} FROM inserted`,
  );
  return { transfer: transferOf(inserted!), replayed: false };
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
 * A pending transfer posted in full at once, in one statement: the same rows as `pending` then
 * `post` (the hold, settled, and its posting) and the same balances. `alongside` are other
 * writes (data-modifying statements) that belong to the same change, run in that statement, so
 * all of it commits or none does. The same ids again change nothing, `alongside` included, and
 * report `replayed`; ids taken by other transfers are refused.
 */
export async function holdAndPost(
  db: Executor,
  t: HoldAndPostInput,
  alongside: readonly Writes[] = [],
): Promise<{ replayed: boolean }> {
  return heldAndPosted(db, t, db.execute(holdAndPostSql(t, alongside)));
}

/**
 * `holdAndPost` as a cached statement (src/db/statement.ts), with the other writes `alongside`
 * builds from the placeholders of the values a run gives beside the transfer's. For a
 * connection, not inside a transaction: a refusal is followed by reads that an aborted
 * transaction would refuse.
 */
export function cachedHoldAndPost(
  alongside: (db: Executor, slots: Record<string, unknown>) => readonly Writes[],
  /** A check of the statement's own: an expression that raises (and so writes nothing) to refuse it. */
  guard?: (slots: Record<string, unknown>) => SQL,
): (db: Executor, t: HoldAndPostInput, values: Record<string, unknown>) => Promise<{ replayed: boolean }> {
  const statement = new CachedStatement<Record<string, unknown>>((db, slots) =>
    holdAndPostSql(unprefixed<HoldAndPostInput>(slots, 'transfer.'), alongside(db, slots), guard?.(slots)),
  );
  return (db, t, values) => {
    // Every run gives the same names: an absent description is a null.
    const transfer = { ...t, description: t.description ?? null };
    return heldAndPosted(db, t, statement.execute(db, { ...prefixed('transfer.', transfer), ...values }));
  };
}

function holdAndPostSql(t: HoldAndPostInput, alongside: readonly Writes[], guard?: SQL): SQL {
  return sql`WITH ${sql.join(
    [
      ...withAlongside(alongside),
      sql`transfers AS (
        INSERT INTO ledger_transfers (id, tenant_id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, state, description)
        VALUES (${t.holdId}, ${t.tenantId}, 'pending', ${t.debitAccountId}, ${t.creditAccountId}, ${t.amount}, ${t.currency}, NULL, 'settled', ${t.description ?? null}),
               (${t.postId}, ${t.tenantId}, 'post', ${t.debitAccountId}, ${t.creditAccountId}, ${t.amount}, ${t.currency}, ${t.holdId}, 'posted', NULL)
        RETURNING id)`,
    ],
    sql`, `,
  )}
  SELECT ${applyBalances(t.debitAccountId, t.creditAccountId, t.currency, {
    debits_posted: t.amount,
    credits_posted: t.amount,
  })}${guard ? sql`, ${guard}` : sql``} FROM (SELECT count(*) FROM transfers) AS written`;
}

/** The outcome of a hold-and-post statement: written, this very change replayed, or refused. */
async function heldAndPosted(
  db: Executor,
  t: HoldAndPostInput,
  statement: Promise<unknown>,
): Promise<{ replayed: boolean }> {
  try {
    await refusingOverdraft(statement);
    return { replayed: false };
  } catch (error) {
    if (!isViolation(error, UNIQUE_VIOLATION, 'ledger_transfers_pkey')) {
      // A post of this hold exists under another id.
      if (isViolation(error, UNIQUE_VIOLATION, 'ledger_transfers_settles_once'))
        throw new LedgerError(
          'pending_already_settled',
          `pending transfer ${t.holdId} is already posted or voided`,
        );
      throw error;
    }
  }
  // An id is taken: this very change again (nothing more to do), or another transfer's.
  const [hold, post] = await Promise.all([findTransfer(db, t.holdId), findTransfer(db, t.postId)]);
  const sameHold =
    hold?.kind === 'pending' &&
    hold.state === 'settled' &&
    hold.debitAccountId === t.debitAccountId &&
    hold.creditAccountId === t.creditAccountId &&
    hold.currency === t.currency &&
    hold.amount === t.amount;
  const samePost = post?.kind === 'post' && post.pendingId === t.holdId && post.amount === t.amount;
  if (sameHold && samePost) return { replayed: true };
  if (sameHold && !post)
    throw new LedgerError(
      'pending_already_settled',
      `pending transfer ${t.holdId} is already posted or voided`,
    );
  const taken = hold ? t.holdId : t.postId;
  throw new LedgerError('exists_with_different_fields', `transfer ${taken} exists with different fields`);
}

type Deltas = Partial<
  Record<'debits_posted' | 'credits_posted' | 'debits_pending' | 'credits_pending', number>
>;

/**
 * The call that applies a transfer's balance changes to both accounts (ledger_apply_balances,
 * migrations/0008): in id order, so concurrent transfers between the same accounts never
 * deadlock, refusing a missing account or one in another currency.
 */
function applyBalances(debitId: string, creditId: string, currency: Currency, deltas: Deltas): SQL {
  return sql`ledger_apply_balances(${debitId}, ${creditId}, ${currency}, ${deltas.debits_posted ?? 0}, ${deltas.debits_pending ?? 0}, ${deltas.credits_posted ?? 0}, ${deltas.credits_pending ?? 0})`;
}

/** A transfer as read back, without the extra column a statement that applied its balances returns. */
function transferOf(row: Transfer & { ledger_apply_balances?: unknown }): Transfer {
  const { ledger_apply_balances: _applied, ...transfer } = row;
  return transfer;
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
/** Raised by ledger_apply_balances (migrations/0008_ledger_balances.sql). */
const ACCOUNT_NOT_FOUND = 'LA001';
const CURRENCY_MISMATCH = 'LA002';

/** The SQLSTATE of a PostgreSQL error, whether drizzle wrapped it or not. */
function sqlState(error: unknown): string | undefined {
  const cause = error instanceof Error && 'cause' in error ? error.cause : error;
  for (const e of [error, cause])
    if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
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
