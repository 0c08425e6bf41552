import { spawn, type ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { paymentIdFor, requestHashOf } from '../../src/app/payments.js';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import type { PaymentRequest } from '../../src/domain/payment.js';
import { DEFAULT_TIMEOUTS, SearchAttributes } from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { count, testDatabase } from '../support/db.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';

/**
 * A worker process is killed (SIGKILL) while payments are in flight on its own task queue; a
 * new worker picks them up. Every payment must end exactly once: one hold, one post.
 */
const taskQueue = uid('crash');
const db = testDatabase();
let connection: Connection;
let client: Client;
const workers: ChildProcess[] = [];

function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
    env: { ...process.env, ...inject('stackEnv'), TASK_QUEUE: taskQueue, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker did not start')), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (/worker polling/.test(chunk.toString())) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await connection.close();
  await expectLedgerClean();
  await db.close();
});

describe('a worker killed mid-payment loses nothing and charges nothing twice', () => {
  it('finishes every payment after SIGKILL and a restart', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 100_000);
    const first = await startWorker();
    const requests: PaymentRequest[] = Array.from({ length: 20 }, () => ({
      orderId: uid('ord'),
      customerId,
      amount: 1000,
      currency: 'USD',
      method: { type: 'wallet' },
      capture: 'automatic',
    }));
    const handles = await Promise.all(
      requests.map((request) =>
        client.workflow.start(paymentWorkflow, {
          taskQueue,
          workflowId: paymentWorkflowId('default', request.orderId),
          args: [
            {
              paymentId: paymentIdFor('default', request.orderId),
              tenantId: 'default',
              request,
              requestHash: requestHashOf(request),
              timeouts: DEFAULT_TIMEOUTS,
              connector: 'sandbox',
            },
          ],
          typedSearchAttributes: new TypedSearchAttributes([
            { key: SearchAttributes.TenantId, value: 'default' },
            { key: SearchAttributes.PaymentStatus, value: 'processing' },
          ]),
        }),
      ),
    );
    // Kill the worker once some payments are under way, without a chance to clean up.
    const held = () =>
      count(
        db,
        "SELECT 1 FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.debit_account_id WHERE a.customer_id = $1 AND t.kind = 'pending'",
        [customerId],
      );
    await expect.poll(held, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(1);
    first.kill('SIGKILL');
    const heldBeforeCrash = await held();
    const finishedBeforeCrash = await count(
      db,
      "SELECT 1 FROM payments WHERE customer_id = $1 AND status = 'succeeded'",
      [customerId],
    );
    await startWorker();

    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill('succeeded'));
    console.log(
      `worker crash: ${heldBeforeCrash} of 20 held and ${finishedBeforeCrash} succeeded before SIGKILL; all 20 succeeded after restart`,
    );
    for (const request of requests) {
      const prefix = `${paymentWorkflowId('default', request.orderId)}#%`;
      expect(
        await count(db, "SELECT 1 FROM ledger_transfers WHERE id LIKE $1 AND kind = 'pending'", [prefix]),
      ).toBe(1);
      expect(
        await count(db, "SELECT 1 FROM ledger_transfers WHERE id LIKE $1 AND kind = 'post'", [prefix]),
      ).toBe(1);
    }
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 80_000,
      pending: 0,
    });
  });
});
