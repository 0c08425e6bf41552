import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/free-port.js';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import { stackTemporal } from '../support/temporal.js';
import { count, testDatabase } from '../support/db.js';
import { api, expectLedgerClean, requestParts, topUp, uid, type PaymentBody } from '../support/http.js';

/**
 * The co-located process (src/colocated/main.ts: the API and a worker in one process) started as
 * `PAYSAGA_COLOCATED=1` starts it, beside the shared stack's API and worker, on the same Temporal,
 * task queue and PostgreSQL. A payment its API waits for starts eagerly: Temporal's answer to the
 * start carries the first workflow task, which this process's worker runs, and the request is
 * answered from the activity's write (`paysaga_payments_started_eagerly_total` counts them).
 */
const temporal = stackTemporal();
const db = testDatabase();
let child: ChildProcess | undefined;
let url = '';
let output = '';

async function colocated(method: string, path: string, body?: unknown) {
  const { headers, payload } = requestParts(body);
  const response = await fetch(`${url}${path}`, { method, headers, body: payload });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** The co-located process's count of payments it answered from an eager start. */
async function eagerStarts(): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('paysaga_payments_started_eagerly_total'));
  return Number(line?.split(' ').at(-1) ?? 'NaN');
}

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/colocated/main.ts'], {
    env: { ...process.env, ...inject('stackEnv'), PORT: String(port), METRICS_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`co-located process did not start:\n${output}`)), 90_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (/api listening/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child!.stdout?.on('data', read);
    child!.stderr?.on('data', read);
    child!.once('exit', (code) => reject(new Error(`co-located process exited with ${code}:\n${output}`)));
  });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await expectLedgerClean();
  await db.close();
});

const walletPayment = (customerId: string, amount = 1000): PaymentBody => ({
  orderId: uid('ord'),
  customerId,
  amount,
  currency: 'USD',
  method: { type: 'wallet' },
});

describe('the API and the worker in one process', () => {
  it('answers a wallet payment from an eager start, once, and the payment is the one stored', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const before = await eagerStarts();
    const body = walletPayment(customerId, 1250);
    const paid = await colocated('POST', '/v1/payments', body);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', amountFromWallet: 1250 });
    expect(await eagerStarts()).toBe(before + 1);
    // As stored, read through the shared stack's API; the workflow's history has one run.
    const read = await api('GET', `/v1/payments/${paid.body.id}`);
    expect(read.body).toEqual(paid.body);
    const description = await temporal.client.workflow
      .getHandle(paymentWorkflowId('default', body.orderId))
      .describe();
    expect(description.runId).toBeTruthy();
    // The same request again is the same payment; the same order with another amount is a conflict.
    expect(await colocated('POST', '/v1/payments', body)).toMatchObject({ status: 200, body: paid.body });
    const other = await colocated('POST', '/v1/payments', { ...body, amount: 1300 });
    expect(other).toMatchObject({ status: 409, body: { code: 'order_already_paid' } });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances).toEqual([
      { currency: 'USD', available: 3750, pending: 0 },
    ]);
  });

  it('answers a declined wallet payment from its eager start too', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 500);
    const before = await eagerStarts();
    const declined = await colocated('POST', '/v1/payments', walletPayment(customerId, 900));
    expect(declined.status).toBe(200);
    expect(declined.body).toMatchObject({ failureCode: 'insufficient_funds' });
    expect(['requires_payment_method', 'failed']).toContain(declined.body.status);
    expect(await eagerStarts()).toBe(before + 1);
  });

  it('charges a card payment eagerly started once', async () => {
    const before = await eagerStarts();
    const paid = await colocated('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 2000,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(paid).toMatchObject({ status: 200, body: { status: 'succeeded', amountFromCard: 2000 } });
    expect(await eagerStarts()).toBe(before + 1);
  });

  it('joins concurrent identical requests to one payment, eager or through the update', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const before = await eagerStarts();
    const body = walletPayment(customerId, 700);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => colocated('POST', '/v1/payments', body)),
    );
    const ids = new Set(answers.map((a) => a.body.id));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(answers.every((a) => a.body.status === 'succeeded')).toBe(true);
    expect(ids.size).toBe(1);
    // One of them started the workflow (eagerly); the others found it running or its payment stored.
    expect(await eagerStarts()).toBe(before + 1);
    for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
    expect(
      await count(db, "SELECT 1 FROM ledger_transfers WHERE id LIKE $1 AND kind IN ('single', 'post')", [
        `payment:default:${body.orderId}#%`,
      ]),
    ).toBe(1);
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances).toEqual([
      { currency: 'USD', available: 4300, pending: 0 },
    ]);
  });
});
