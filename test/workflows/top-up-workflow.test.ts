import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TopUpWorkflowInput } from '../../src/workflows/contract.js';
import { topUpWorkflow } from '../../src/workflows/top-up.js';
import { fakeActivities } from '../support/fake-activities.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();

async function runTopUp(
  fakes: ReturnType<typeof fakeActivities>,
  token: string,
  fixture?: string,
  connector?: string,
) {
  return suite.withWorker(fakes.activities, async (taskQueue) => {
    const input: TopUpWorkflowInput = {
      tenantId: 'default',
      customerId: 'cus_1',
      amount: 2500,
      currency: 'USD',
      token,
      ...(connector ? { connector } : {}),
    };
    const handle = await suite.env.client.workflow.start(topUpWorkflow, {
      taskQueue,
      workflowId: `topup:default:cus_1:${randomUUID()}`,
      args: [input],
    });
    const result = await handle.result();
    if (fixture) await recordHistory(handle, fixture);
    return result;
  });
}

describe('TopUpWorkflow (time-skipping server, fake activities)', () => {
  it('charges the card, then credits the wallet and publishes wallet.updated', async () => {
    const fakes = fakeActivities();
    expect(await runTopUp(fakes, 'tok_ok', 'topup')).toEqual({
      status: 'succeeded',
      authorizationId: expect.any(String),
    });
    expect(fakes.calls).toEqual([
      'authorizeCard:2500:sale',
      'creditWallet:2500',
      'publishEvent:wallet.updated',
    ]);
    expect(fakes.balance()).toBe(2500);
  });

  it('captures a charge the gateway only authorized', async () => {
    const fakes = fakeActivities();
    expect(await runTopUp(fakes, 'tok_authorize_only')).toEqual({
      status: 'succeeded',
      authorizationId: expect.any(String),
    });
    expect(fakes.calls).toEqual([
      'authorizeCard:2500:sale',
      'captureCard:2500',
      'creditWallet:2500',
      'publishEvent:wallet.updated',
    ]);
  });

  it('charges, captures and refunds through the connector in its input (the sandbox without one)', async () => {
    const fakes = fakeActivities({ creditRefused: true });
    await runTopUp(fakes, 'tok_authorize_only', undefined, 'acme');
    expect(fakes.connectors).toEqual(['acme', 'acme', 'acme']);
    const legacy = fakeActivities();
    await runTopUp(legacy, 'tok_authorize_only');
    expect(legacy.connectors).toEqual(['sandbox', 'sandbox']);
  });

  it('fails a declined card without touching the wallet', async () => {
    const fakes = fakeActivities();
    expect(await runTopUp(fakes, 'tok_decline')).toMatchObject({
      status: 'failed',
      failureCode: 'card_declined',
    });
    expect(fakes.calls).toEqual(['authorizeCard:2500:sale']);
  });

  it('refunds the charge when the wallet cannot be credited', async () => {
    const fakes = fakeActivities({ creditRefused: true });
    expect(await runTopUp(fakes, 'tok_ok', 'topup-credit-refused')).toMatchObject({
      status: 'failed',
      failureCode: 'processing_error',
    });
    expect(fakes.calls).toEqual(['authorizeCard:2500:sale', 'creditWallet:2500', 'refundCard:2500']);
    expect(fakes.balance()).toBe(0);
  });
});
