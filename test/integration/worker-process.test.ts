import { stackTemporal } from '../support/temporal.js';
import { describe, expect, it } from 'vitest';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import { api, uid } from '../support/http.js';

/**
 * The stack's worker process is started as `npm run worker` starts it, with
 * src/worker/workflow-threads.ts preloaded into its workflow threads.
 */
const temporal = stackTemporal();

describe('the worker process', () => {
  it("runs workflows without the SDK's stack-trace promise hook, and they still answer queries and updates", async () => {
    // A manual-capture payment stays open in requires_capture, so its workflow can be asked.
    const orderId = uid('ord');
    const created = await api('POST', '/v1/payments', {
      orderId,
      customerId: uid('cus'),
      amount: 2500,
      currency: 'EUR',
      capture: 'manual',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(created.status).toBe(200);
    expect(created.body.status).toBe('requires_capture');
    const handle = temporal.client.workflow.getHandle(paymentWorkflowId('default', orderId));

    // The Web UI's "Stack Trace" tab sends this query; without the hook the SDK declines it.
    await expect(handle.query('__stack_trace')).rejects.toThrow(/stack traces are not enabled/);
    expect(await handle.query('status')).toMatchObject({ status: 'requires_capture' });

    const captured = await api('POST', `/v1/payments/${created.body.id}/capture`, {});
    expect(captured.status).toBe(200);
    expect(captured.body.status).toBe('succeeded');
  });
});
