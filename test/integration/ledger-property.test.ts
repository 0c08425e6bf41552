import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createTransfer, ensureAccounts, LedgerError, type TransferInput } from '../../src/db/ledger.js';
import { verifyLedger } from '../../src/db/ledger-verify.js';
import { testDatabase } from '../support/db.js';

/**
 * Random sequences of ledger transfers (top-ups, debits, balancing debits, holds, posts, voids,
 * wallet-to-wallet moves, replays and conflicting replays) against the real PostgreSQL of the
 * test stack, checked step by step against a model of the balances, and at the end against
 * every invariant verifyLedger checks.
 */
const handle = testDatabase();
const db = handle.db;
const tenantId = `prop_${randomUUID().slice(0, 8)}`;

afterAll(async () => {
  await handle.close();
});

type WalletIndex = 0 | 1;
type Command =
  | { t: 'credit'; wallet: WalletIndex; amount: number }
  | { t: 'debit'; wallet: WalletIndex; amount: number; upTo: boolean }
  | { t: 'move'; from: WalletIndex; amount: number }
  | { t: 'hold'; wallet: WalletIndex; amount: number }
  | { t: 'post'; pick: number; amount: number | undefined }
  | { t: 'void'; pick: number }
  | { t: 'replay'; pick: number }
  | { t: 'conflict'; pick: number };

const wallet = fc.constantFrom<WalletIndex>(0, 1);
const amount = fc.integer({ min: 1, max: 5_000 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('credit' as const), wallet, amount }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('debit' as const), wallet, amount, upTo: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('move' as const), from: wallet, amount }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('hold' as const), wallet, amount }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('post' as const),
      pick: fc.nat(),
      amount: fc.option(fc.integer({ min: 1, max: 6_000 }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('void' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('replay' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('conflict' as const), pick: fc.nat() }) },
);

interface Balance {
  dp: number;
  cp: number;
  dq: number;
  cq: number;
}

interface Pending {
  id: string;
  debit: string;
  credit: string;
  amount: number;
  settled: boolean;
}

async function balances(ids: string[]): Promise<Record<string, Balance>> {
  const result = await handle.pool.query<{ id: string; dp: string; cp: string; dq: string; cq: string }>(
    `SELECT id, debits_posted::text AS dp, credits_posted::text AS cp, debits_pending::text AS dq,
            credits_pending::text AS cq FROM ledger_accounts WHERE id = ANY($1)`,
    [ids],
  );
  return Object.fromEntries(
    result.rows.map((r) => [
      r.id,
      { dp: Number(r.dp), cp: Number(r.cp), dq: Number(r.dq), cq: Number(r.cq) },
    ]),
  );
}

async function outcome(input: TransferInput): Promise<{ code: string; replayed?: boolean; amount?: number }> {
  try {
    const result = await createTransfer(db, input);
    return { code: 'ok', replayed: result.replayed, amount: result.transfer.amount };
  } catch (error) {
    if (error instanceof LedgerError) return { code: error.code };
    throw error;
  }
}

async function runSequence(commands: Command[]): Promise<void> {
  const customer = randomUUID().slice(0, 8);
  const wallets = [0, 1].map((i) => `wallet:${tenantId}:USD:c${i}_${customer}`) as [string, string];
  const clearing = `system:${tenantId}:USD:gateway_clearing_${customer}`;
  const revenue = `system:${tenantId}:USD:merchant_revenue_${customer}`;
  const ids = [...wallets, clearing, revenue];
  await ensureAccounts(db, [
    ...wallets.map((id, i) => ({
      id,
      tenantId,
      kind: 'wallet' as const,
      customerId: `c${i}_${customer}`,
      code: 'wallet',
      currency: 'USD' as const,
    })),
    { id: clearing, tenantId, kind: 'system', code: 'gateway_clearing', currency: 'USD' },
    { id: revenue, tenantId, kind: 'system', code: 'merchant_revenue', currency: 'USD' },
  ]);

  const model: Record<string, Balance> = Object.fromEntries(
    ids.map((id) => [id, { dp: 0, cp: 0, dq: 0, cq: 0 }]),
  );
  const available = (id: string) => model[id]!.cp - model[id]!.dp - model[id]!.dq;
  const pendings: Pending[] = [];
  const applied: TransferInput[] = [];

  for (const [step, c] of commands.entries()) {
    const where = `step ${step} ${JSON.stringify(c)}`;
    const id = randomUUID();
    if (c.t === 'replay' || c.t === 'conflict') {
      const candidates =
        c.t === 'replay' ? applied : applied.filter((a) => a.kind === 'single' || a.kind === 'pending');
      if (candidates.length === 0) continue;
      const original = candidates[c.pick % candidates.length]!;
      const before = await balances(ids);
      if (c.t === 'replay') {
        const again = await outcome(original);
        expect(again, where).toMatchObject({ code: 'ok', replayed: true });
      } else if (original.kind === 'single' || original.kind === 'pending') {
        const changed = await outcome({ ...original, amount: original.amount + 1, upToAvailable: false });
        expect(changed.code, where).toBe('exists_with_different_fields');
      }
      // A replay (or a refused conflicting one) changes nothing.
      expect(await balances(ids), where).toEqual(before);
      continue;
    }

    let input: TransferInput;
    let expected: string;
    let apply: (amount: number) => void = () => undefined;
    let pending: Pending | undefined;
    if (c.t === 'post' || c.t === 'void') {
      pending = pendings.length > 0 ? pendings[c.pick % pendings.length] : undefined;
      const pendingId = pending?.id ?? `missing_${id}`;
      input =
        c.t === 'post'
          ? { kind: 'post', id, tenantId, pendingId, amount: c.amount }
          : { kind: 'void', id, tenantId, pendingId };
      const posted = c.t === 'post' ? (c.amount ?? pending?.amount ?? 0) : 0;
      expected = !pending
        ? 'pending_not_found'
        : pending.settled
          ? 'pending_already_settled'
          : posted > pending.amount
            ? 'amount_exceeds_pending'
            : 'ok';
      const p = pending;
      apply = () => {
        if (!p) return;
        model[p.debit]!.dq -= p.amount;
        model[p.credit]!.cq -= p.amount;
        model[p.debit]!.dp += posted;
        model[p.credit]!.cp += posted;
        p.settled = true;
      };
    } else {
      const [debit, credit] =
        c.t === 'credit'
          ? [clearing, wallets[c.wallet]]
          : c.t === 'move'
            ? [wallets[c.from], wallets[1 - c.from]!]
            : [wallets[c.wallet], revenue];
      const upTo = c.t === 'debit' && c.upTo;
      input = {
        kind: c.t === 'hold' ? 'pending' : 'single',
        id,
        tenantId,
        debitAccountId: debit,
        creditAccountId: credit,
        amount: c.amount,
        currency: 'USD',
        ...(upTo ? { upToAvailable: true } : {}),
      };
      const isWallet = debit.startsWith('wallet:');
      expected = isWallet && !upTo && c.amount > available(debit) ? 'insufficient_funds' : 'ok';
      const column = c.t === 'hold' ? 'q' : 'p';
      apply = (moved) => {
        model[debit]![`d${column}`] += moved;
        model[credit]![`c${column}`] += moved;
      };
      if (c.t === 'hold') pending = { id, debit, credit, amount: c.amount, settled: false };
    }

    const before = await balances(ids);
    const result = await outcome(input);
    expect(result.code, where).toBe(expected);
    if (result.code === 'ok') {
      expect(result.replayed, where).toBe(false);
      if (input.kind === 'single' && input.upToAvailable) {
        const debitAvailable = available(input.debitAccountId);
        expect(result.amount, where).toBe(Math.max(0, Math.min(input.amount, debitAvailable)));
      }
      apply(result.amount!);
      if (c.t === 'hold') pendings.push(pending!);
      applied.push(input);
      expect(await balances(ids), where).toEqual(model);
    } else {
      // A refused transfer writes nothing.
      expect(await balances(ids), where).toEqual(before);
    }
    for (const w of wallets) expect(available(w), `${where}: ${w} below zero`).toBeGreaterThanOrEqual(0);
  }

  // Amounts stay integers all the way through PostgreSQL.
  for (const b of Object.values(await balances(ids)))
    for (const v of Object.values(b)) expect(Number.isSafeInteger(v)).toBe(true);
  expect(await verifyLedger(db)).toEqual([]);
}

describe('ledger (property, real PostgreSQL)', () => {
  it('random transfer sequences follow the model, never overdraw a wallet, and replays are no-ops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        await runSequence(commands);
      }),
      { numRuns: 40 },
    );
    expect(await verifyLedger(db)).toEqual([]);
  });
});
