import { randomUUID } from 'node:crypto';
import { asc, eq, sql } from '../../src/db/orm.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cachedHoldAndPost,
  createTransfer,
  ensureAccounts,
  findTransfer,
  holdAndPost,
  LedgerError,
} from '../../src/db/ledger.js';
import { findPayment, paymentWriteSlots, paymentWriteValues } from '../../src/db/payments.js';
import { initialPaymentView, type PaymentView } from '../../src/domain/payment.js';
import { paymentEvent } from '../../src/activities/payments.js';
import { verifyLedger } from '../../src/db/ledger-verify.js';
import { events, ledgerAccounts } from '../../src/db/schema.js';
import { getWalletBalances } from '../../src/db/wallets.js';
import { testDatabase } from '../support/db.js';

const handle = testDatabase();
const db = handle.db;
const tenantId = `ledger_${randomUUID().slice(0, 8)}`;

afterAll(async () => {
  expect(await verifyLedger(db)).toEqual([]);
  await handle.close();
});

async function setup(balance: number) {
  const customerId = `cus_${randomUUID().slice(0, 8)}`;
  const wallet = `wallet:${tenantId}:USD:${customerId}`;
  const source = `system:${tenantId}:USD:gateway_clearing`;
  const revenue = `system:${tenantId}:USD:merchant_revenue`;
  await ensureAccounts(db, [
    { id: wallet, tenantId, kind: 'wallet', customerId, code: 'wallet', currency: 'USD' },
    { id: source, tenantId, kind: 'system', code: 'gateway_clearing', currency: 'USD' },
    { id: revenue, tenantId, kind: 'system', code: 'merchant_revenue', currency: 'USD' },
  ]);
  if (balance > 0) {
    await createTransfer(db, {
      kind: 'single',
      id: randomUUID(),
      tenantId,
      debitAccountId: source,
      creditAccountId: wallet,
      amount: balance,
      currency: 'USD',
    });
  }
  return { customerId, wallet, source, revenue };
}

const accountExists = async (id: string) =>
  (await db.select().from(ledgerAccounts).where(eq(ledgerAccounts.id, id))).length === 1;

const code = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof LedgerError ? error.code : String(error);
  }
};

describe('double-entry ledger on PostgreSQL', () => {
  it('applies a transfer id once and refuses the same id with other fields', async () => {
    const { wallet, revenue } = await setup(1000);
    const t = {
      kind: 'single' as const,
      id: randomUUID(),
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 400,
      currency: 'USD' as const,
    };
    expect((await createTransfer(db, t)).replayed).toBe(false);
    expect((await createTransfer(db, t)).replayed).toBe(true);
    expect(await code(createTransfer(db, { ...t, amount: 401 }))).toBe('exists_with_different_fields');
    expect(
      await code(createTransfer(db, { ...t, creditAccountId: t.debitAccountId, debitAccountId: revenue })),
    ).toBe('exists_with_different_fields');
  });

  it('never lets concurrent debits take a wallet below zero', async () => {
    const { customerId, wallet, revenue } = await setup(1000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        code(
          createTransfer(db, {
            kind: 'single',
            id: randomUUID(),
            tenantId,
            debitAccountId: wallet,
            creditAccountId: revenue,
            amount: 150,
            currency: 'USD',
          }),
        ),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(6);
    expect(results.filter((r) => r === 'insufficient_funds')).toHaveLength(14);
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 100, pending: 0 },
    ]);
  });

  it('holds funds, posts part of a hold and releases the rest', async () => {
    const { customerId, wallet, revenue } = await setup(1000);
    const pendingId = randomUUID();
    await createTransfer(db, {
      kind: 'pending',
      id: pendingId,
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 700,
      currency: 'USD',
    });
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 300, pending: 700 },
    ]);
    expect(
      await code(createTransfer(db, { kind: 'post', id: randomUUID(), tenantId, pendingId, amount: 701 })),
    ).toBe('amount_exceeds_pending');
    const postId = randomUUID();
    await createTransfer(db, { kind: 'post', id: postId, tenantId, pendingId, amount: 500 });
    expect(
      (await createTransfer(db, { kind: 'post', id: postId, tenantId, pendingId, amount: 500 })).replayed,
    ).toBe(true);
    expect(await code(createTransfer(db, { kind: 'void', id: randomUUID(), tenantId, pendingId }))).toBe(
      'pending_already_settled',
    );
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 500, pending: 0 },
    ]);
  });

  it('voids a hold, refuses an expired one, and holds only what is available on a balancing debit', async () => {
    const { customerId, wallet, revenue } = await setup(300);
    const held = await createTransfer(db, {
      kind: 'pending',
      id: randomUUID(),
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 1000,
      currency: 'USD',
      upToAvailable: true,
    });
    expect(held.transfer.amount).toBe(300);
    await createTransfer(db, { kind: 'void', id: randomUUID(), tenantId, pendingId: held.transfer.id });
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 300, pending: 0 },
    ]);

    const expiring = randomUUID();
    await createTransfer(db, {
      kind: 'pending',
      id: expiring,
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 100,
      currency: 'USD',
      expiresAt: new Date(Date.now() - 1000),
    });
    expect(
      await code(createTransfer(db, { kind: 'post', id: randomUUID(), tenantId, pendingId: expiring })),
    ).toBe('pending_expired');
    await createTransfer(db, { kind: 'void', id: randomUUID(), tenantId, pendingId: expiring });
    expect((await findTransfer(db, expiring))?.state).toBe('settled');
  });

  it('holds and posts in one step with the rows and balances of a hold and its posting', async () => {
    // The same payment both ways: a hold then its posting, and both at once.
    const twoSteps = await setup(1000);
    const holdId = randomUUID();
    await createTransfer(db, {
      kind: 'pending',
      id: holdId,
      tenantId,
      debitAccountId: twoSteps.wallet,
      creditAccountId: twoSteps.revenue,
      amount: 600,
      currency: 'USD',
      description: 'payment hold',
    });
    const postId = randomUUID();
    await createTransfer(db, { kind: 'post', id: postId, tenantId, pendingId: holdId });

    const oneStep = await setup(1000);
    const input = {
      holdId: randomUUID(),
      postId: randomUUID(),
      tenantId,
      debitAccountId: oneStep.wallet,
      creditAccountId: oneStep.revenue,
      amount: 600,
      currency: 'USD' as const,
      description: 'payment hold',
    };
    expect(await holdAndPost(db, input)).toEqual({ replayed: false });

    const shape = (t: Awaited<ReturnType<typeof findTransfer>>) => ({
      kind: t?.kind,
      amount: t?.amount,
      currency: t?.currency,
      state: t?.state,
      pending: t?.pendingId !== null,
    });
    expect(shape(await findTransfer(db, input.holdId))).toEqual(shape(await findTransfer(db, holdId)));
    expect(shape(await findTransfer(db, input.postId))).toEqual(shape(await findTransfer(db, postId)));
    expect((await findTransfer(db, input.postId))?.pendingId).toBe(input.holdId);
    const balances = await getWalletBalances(db, tenantId, oneStep.customerId);
    expect(balances).toEqual([{ currency: 'USD', available: 400, pending: 0 }]);
    expect(balances).toEqual(await getWalletBalances(db, tenantId, twoSteps.customerId));

    // Again with the same ids: nothing moves. Other fields, or an id another transfer has: refused.
    expect(await holdAndPost(db, input)).toEqual({ replayed: true });
    expect(await getWalletBalances(db, tenantId, oneStep.customerId)).toEqual(balances);
    expect(await code(holdAndPost(db, { ...input, amount: 601 }))).toBe('exists_with_different_fields');
    expect(await code(holdAndPost(db, { ...input, postId: randomUUID() }))).toBe('pending_already_settled');
    expect(await code(holdAndPost(db, { ...input, holdId: randomUUID() }))).toBe(
      'exists_with_different_fields',
    );
    expect(await getWalletBalances(db, tenantId, oneStep.customerId)).toEqual(balances);
  });

  it('commits the writes that go alongside a one-step hold and posting with it, or not at all', async () => {
    // Another account's creation stands for the payment row that goes with a wallet payment.
    const alongside = (id: string) =>
      db.insert(ledgerAccounts).values({ id, tenantId, kind: 'system', code: 'alongside', currency: 'USD' });
    const { customerId, wallet, revenue } = await setup(500);
    const input = {
      holdId: randomUUID(),
      postId: randomUUID(),
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 501,
      currency: 'USD' as const,
    };
    const refused = `system:${tenantId}:USD:alongside-${randomUUID()}`;
    expect(await code(holdAndPost(db, input, [alongside(refused)]))).toBe('insufficient_funds');
    expect(await accountExists(refused)).toBe(false);

    const written = `system:${tenantId}:USD:alongside-${randomUUID()}`;
    expect(await holdAndPost(db, { ...input, amount: 500 }, [alongside(written)])).toEqual({
      replayed: false,
    });
    expect(await accountExists(written)).toBe(true);
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 0, pending: 0 },
    ]);
    // The same change again: replayed, and nothing alongside it runs (it would fail: the id is taken).
    const again = `system:${tenantId}:USD:alongside-${randomUUID()}`;
    expect(await holdAndPost(db, { ...input, amount: 500 }, [alongside(again)])).toEqual({ replayed: true });
    expect(await accountExists(again)).toBe(false);
  });

  it('runs a cached hold and posting with each run its own values, encoded as the built statement encodes them', async () => {
    const pay = cachedHoldAndPost((tx, slots) => paymentWriteSlots(tx, slots, 2));
    const paid = async (amount: number, metadata: Record<string, string> | undefined) => {
      const { customerId, wallet, revenue } = await setup(amount);
      const orderId = `ord_${randomUUID().slice(0, 8)}`;
      const created = initialPaymentView({
        paymentId: `pay_${randomUUID().slice(0, 8)}`,
        tenantId,
        workflowId: `payment:${tenantId}:${orderId}`,
        request: {
          orderId,
          customerId,
          amount,
          currency: 'USD',
          method: { type: 'wallet' },
          capture: 'automatic',
          metadata,
        },
        requestHash: 'hash',
        connector: 'sandbox',
        now: new Date(Date.UTC(2026, 0, 1, 12, 0, amount % 60)),
      });
      const succeeded: PaymentView = {
        ...created,
        status: 'succeeded',
        amountCaptured: amount,
        amountFromWallet: amount,
        version: created.version + 1,
      };
      const written = [
        paymentEvent(created, 'payment.created'),
        paymentEvent(succeeded, 'payment.succeeded'),
      ];
      const transfer = {
        holdId: randomUUID(),
        postId: randomUUID(),
        tenantId,
        debitAccountId: wallet,
        creditAccountId: revenue,
        amount,
        currency: 'USD' as const,
      };
      expect(await pay(db, transfer, paymentWriteValues(succeeded, written))).toEqual({ replayed: false });
      expect(await findPayment(db, tenantId, succeeded.id)).toEqual(succeeded);
      const stored = await db
        .select()
        .from(events)
        .where(eq(events.subject, `payments/${succeeded.id}`))
        // In the order written (a table's rows come back in no set order).
        .orderBy(asc(events.seq));
      expect(stored.map((e) => ({ id: e.id, time: e.time.toISOString(), data: e.data }))).toEqual(
        written.map((e) => ({ id: e.id, time: e.time, data: e.data })),
      );
      expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
        { currency: 'USD', available: 0, pending: 0 },
      ]);
      // The same change again is replayed, as with the built statement.
      expect(await pay(db, transfer, paymentWriteValues(succeeded, written))).toEqual({ replayed: true });
      return { succeeded, written };
    };
    // Two runs of the one statement: other amounts, ids, times, JSON and a null.
    await paid(700, { seat: '12A' });
    const second = await paid(1300, undefined);
    // A null comes back as null (a jsonb column holds the JSON null: src/db/statement.ts).
    const nulls = await db.execute(
      sql`SELECT card, next_action, metadata, settled_at IS NOT NULL AS settled FROM payments WHERE id = ${second.succeeded.id}`,
    );
    expect(nulls.rows).toEqual([{ card: null, next_action: null, metadata: null, settled: true }]);
    // A run that gives another set of values than the statement was built with is refused.
    await expect(
      pay(
        db,
        {
          holdId: randomUUID(),
          postId: randomUUID(),
          tenantId,
          debitAccountId: 'a',
          creditAccountId: 'b',
          amount: 1,
          currency: 'USD',
        },
        paymentWriteValues(second.succeeded, second.written.slice(0, 1)),
      ),
    ).rejects.toThrow(/cached statement/);
  });

  it('refuses a one-step hold and posting beyond the balance and writes neither', async () => {
    const { customerId, wallet, revenue } = await setup(500);
    const input = {
      holdId: randomUUID(),
      postId: randomUUID(),
      tenantId,
      debitAccountId: wallet,
      creditAccountId: revenue,
      amount: 501,
      currency: 'USD' as const,
    };
    expect(await code(holdAndPost(db, input))).toBe('insufficient_funds');
    expect(await findTransfer(db, input.holdId)).toBeUndefined();
    expect(await findTransfer(db, input.postId)).toBeUndefined();
    expect(await getWalletBalances(db, tenantId, customerId)).toEqual([
      { currency: 'USD', available: 500, pending: 0 },
    ]);
  });

  it('refuses a transfer in the wrong currency and writes nothing', async () => {
    const { wallet, revenue } = await setup(1000);
    const id = randomUUID();
    expect(
      await code(
        createTransfer(db, {
          kind: 'single',
          id,
          tenantId,
          debitAccountId: wallet,
          creditAccountId: revenue,
          amount: 1,
          currency: 'EUR',
        }),
      ),
    ).toBe('currency_mismatch');
    expect(await findTransfer(db, id)).toBeUndefined();
  });
});
