import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import type { PaymentRequest } from '../../src/domain/payment.js';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import { DEFAULT_TIMEOUTS, type PaymentWorkflowInput } from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { fakeActivities } from '../support/fake-activities.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

/**
 * A payment with a route (sandbox, then acme): what makes it move to the fallback connector
 * and what keeps it where it is. The gateway's answers are shaped per case around fake activities.
 */
const suite = timeSkippingSuite();

const card = (token: string): PaymentRequest => ({
  orderId: `ord_${randomUUID()}`,
  customerId: 'cus_1',
  amount: 1000,
  currency: 'EUR',
  method: { type: 'card', token, tokens: { acme: 'tok_ok' } },
  capture: 'automatic',
});

async function pay(req: PaymentRequest, activities: Activities) {
  return suite.withWorker(activities, async (taskQueue) => {
    const handle = await suite.env.client.workflow.start(paymentWorkflow, {
      taskQueue,
      workflowId: paymentWorkflowId('default', req.orderId),
      args: [
        {
          paymentId: 'pay_0123456789abcdef',
          tenantId: 'default',
          request: req,
          requestHash: 'h',
          timeouts: DEFAULT_TIMEOUTS,
          connector: 'sandbox',
          connectors: ['sandbox', 'acme'],
        } satisfies PaymentWorkflowInput,
      ],
    });
    return handle.result();
  });
}

/** The sandbox never answers an authorization (a dead gateway): every try throws. */
function deadSandbox(fakes: ReturnType<typeof fakeActivities>, lookup?: Activities['findAuthorization']) {
  const sandboxTries: string[] = [];
  const fallbackKeys: string[] = [];
  const activities: Activities = {
    ...fakes.activities,
    authorizeCard: async (request) => {
      if (request.connector !== 'sandbox') {
        fallbackKeys.push(request.idempotencyKey);
        return fakes.activities.authorizeCard(request);
      }
      sandboxTries.push(request.idempotencyKey);
      throw new Error('connect ECONNREFUSED (the sandbox is down)');
    },
    ...(lookup ? { findAuthorization: lookup } : {}),
  };
  return { activities, sandboxTries, fallbackKeys };
}

describe('a payment with a fallback connector (time-skipping server, fake activities)', () => {
  it('moves to the next connector when the first gives no answer and its lookup finds nothing', async () => {
    const fakes = fakeActivities();
    const lookups: string[] = [];
    const { activities, sandboxTries, fallbackKeys } = deadSandbox(fakes, async (request) => {
      lookups.push(`${request.connector}:${request.idempotencyKey}`);
      return null;
    });
    const result = await pay(card('tok_ok'), activities);
    expect(result).toMatchObject({ status: 'succeeded', connector: 'acme', amountCaptured: 1000 });
    expect(result.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        connector: 'sandbox',
        status: 'failed',
        failureCode: 'processing_error',
      }),
      expect.objectContaining({ number: 2, connector: 'acme', status: 'succeeded' }),
    ]);
    // The short budget: three tries on the sandbox, one lookup with the same key, then acme with its own.
    expect(sandboxTries).toHaveLength(3);
    expect(new Set(sandboxTries).size).toBe(1);
    expect(lookups).toEqual([`sandbox:${sandboxTries[0]}`]);
    expect(fallbackKeys).toHaveLength(1);
    expect(fallbackKeys[0]).not.toBe(sandboxTries[0]);
  });

  it('stays on its connector, and fails, when the lookup cannot tell whether money moved', async () => {
    const fakes = fakeActivities();
    // The in-memory gateway has no lookup: the activity refuses it.
    const { activities, sandboxTries } = deadSandbox(fakes);
    const result = await pay(card('tok_ok'), activities);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'processing_error', connector: 'sandbox' });
    expect(result.attempts).toHaveLength(1);
    expect(sandboxTries).toHaveLength(3);
    expect(fakes.connectors).not.toContain('acme');
  });

  it('takes the authorization the lookup finds: the customer is charged once, on the first connector', async () => {
    const fakes = fakeActivities();
    let lost: Awaited<ReturnType<Activities['authorizeCard']>> | undefined;
    const activities: Activities = {
      ...fakes.activities,
      authorizeCard: async (request) => {
        if (request.connector !== 'sandbox') return fakes.activities.authorizeCard(request);
        // The gateway charged, and its answer was lost; later tries find it down.
        lost ??= await fakes.activities.authorizeCard(request);
        throw new Error('socket hang up');
      },
      findAuthorization: async () => lost ?? null,
    };
    const result = await pay(card('tok_ok'), activities);
    expect(lost).toBeDefined();
    expect(result).toMatchObject({
      status: 'succeeded',
      connector: 'sandbox',
      gatewayAuthorizationId: lost!.id,
    });
    expect(result.attempts).toEqual([expect.objectContaining({ connector: 'sandbox', status: 'succeeded' })]);
    expect(fakes.connectors).not.toContain('acme');
  });

  it('a decline on the first connector is final', async () => {
    const fakes = fakeActivities();
    const result = await pay(card('tok_decline'), fakes.activities);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'card_declined', connector: 'sandbox' });
    expect(result.attempts).toHaveLength(1);
    expect(fakes.connectors).not.toContain('acme');
  });
});
