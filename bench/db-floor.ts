/**
 * The database floor: the ledger work of a wallet payment (pending hold + post) and one upsert of
 * its payment row, straight against PostgreSQL, driven open-loop at Paysaga's rates: the cost of
 * the database work alone.
 */
import { connectDatabase } from '../src/db/client.js';
import { createTransfer, ensureAccounts, type AccountSpec } from '../src/db/ledger.js';
import { savePayment } from '../src/db/payments.js';
import { systemAccountId, walletAccountId } from '../src/domain/accounts.js';
import type { PaymentView } from '../src/domain/payment.js';
import { mapLimit } from './api.js';
import type { FloorOptions } from './floors.js';
import { runOpenLoop, stepUntilKnee, type StepResult } from './load.js';
import { AMOUNT } from './scenarios.js';

export async function databaseFloor(options: FloorOptions & { databaseUrl: string }): Promise<StepResult[]> {
  // The worker's pool size, so both sides queue for connections the same way.
  const database = connectDatabase(options.databaseUrl, { max: 20 });
  const { db } = database;
  const tenantId = 'bench-db-floor';
  const system = (code: 'gateway_clearing' | 'merchant_revenue'): AccountSpec => ({
    id: systemAccountId(tenantId, code, 'USD'),
    tenantId,
    kind: 'system',
    code,
    currency: 'USD',
  });
  const clearing = system('gateway_clearing');
  const revenue = system('merchant_revenue');
  const wallet = (customerId: string): AccountSpec => ({
    id: walletAccountId(tenantId, customerId, 'USD'),
    tenantId,
    kind: 'wallet',
    customerId,
    code: 'wallet',
    currency: 'USD',
  });
  try {
    await ensureAccounts(db, [clearing, revenue]);
    return await stepUntilKnee(
      options.rates,
      async (rate) => {
        const tag = `${options.runId}-dbfloor-${rate}`;
        const count = Math.max(1, Math.round((rate * options.plan.durationMs) / 1000));
        const customer = (i: number) => `cus-${tag}-${i}`;
        // Untimed: each customer's wallet exists and holds the payment's amount.
        await mapLimit(
          Array.from({ length: count }, (_, i) => i),
          8,
          async (i) => {
            const account = wallet(customer(i));
            await ensureAccounts(db, [account]);
            await createTransfer(db, {
              kind: 'single',
              id: `${tag}-${i}#fund`,
              tenantId,
              debitAccountId: clearing.id,
              creditAccountId: account.id,
              amount: AMOUNT,
              currency: 'USD',
            });
          },
        );
        const { result } = await runOpenLoop(
          { ...options.plan, rate },
          async (i) => {
            const holdId = `${tag}-${i}#wallet-hold`;
            await createTransfer(db, {
              kind: 'pending',
              id: holdId,
              tenantId,
              debitAccountId: wallet(customer(i)).id,
              creditAccountId: revenue.id,
              amount: AMOUNT,
              currency: 'USD',
              description: 'payment hold',
            });
            await createTransfer(db, {
              kind: 'post',
              id: `${tag}-${i}#wallet-post`,
              tenantId,
              pendingId: holdId,
            });
            await savePayment(db, paymentRow(tenantId, `${tag}-${i}`, customer(i)));
            return { kind: 'ok' };
          },
          options.meter,
        );
        return result;
      },
      options.log,
    );
  } finally {
    await database.close();
  }
}

function paymentRow(tenantId: string, orderId: string, customerId: string): PaymentView {
  const now = new Date().toISOString();
  return {
    id: `pay_${orderId}`,
    tenantId,
    workflowId: `bench:${orderId}`,
    orderId,
    customerId,
    amount: AMOUNT,
    currency: 'USD',
    status: 'succeeded',
    method: { type: 'wallet' },
    capture: 'automatic',
    amountCaptured: AMOUNT,
    amountRefunded: 0,
    amountFromWallet: AMOUNT,
    amountFromCard: 0,
    attempts: [
      { number: 1, method: { type: 'wallet' }, status: 'succeeded', connector: 'sandbox', createdAt: now },
    ],
    reference: `BENCH-${orderId}`,
    requestHash: 'bench',
    connector: 'sandbox',
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}
