import { afterEach, describe, expect, it } from 'vitest';
import { complete3ds, resetFaults, setFaults } from '../support/gateway.js';
import { api, topUp, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';
import { colocated } from '../../tools/stack/stack.js';

afterEach(async () => {
  await resetFaults();
});

interface Step {
  kind: string;
  step: string;
  name: string;
  outcome: string;
  attempts?: number;
  failure?: string;
  compensation?: boolean;
  startedAt: string;
  durationMs?: number;
}

const timeline = async (id: string) => {
  const res = await api('GET', `/v1/payments/${id}/timeline`);
  expect(res.status).toBe(200);
  return res.body as {
    workflowId: string;
    runId: string;
    webUiUrl: string;
    workflowStatus: string;
    steps: Step[];
  };
};

/**
 * The timeline once it shows a step matching `done`. It is Temporal's history, and a payment's
 * state is written (and may be answered, read, waited for) while the workflow task that wrote it
 * is still to be recorded there: a moment later.
 */
async function timelineWith(id: string, done: (step: Step) => boolean) {
  let read = await timeline(id);
  await expect.poll(async () => (read = await timeline(id)).steps.some(done), { timeout: 10_000 }).toBe(true);
  return read;
}

/** The index of the first step matching `match` after index `from`; fails when there is none. */
function indexOf(steps: Step[], match: (step: Step) => boolean, from = -1): number {
  const index = steps.findIndex((step, i) => i > from && match(step));
  expect(index, `no step after ${from} matching ${match.toString()}`).toBeGreaterThan(from);
  return index;
}

describe('GET /v1/payments/{id}/timeline', () => {
  it('shows a 3-D Secure sale: the authorization retried after a 5xx, the wait, the webhook, the re-read, the recorded capture', async () => {
    // The gateway answers 503 once, then authorizes (a retry within the same workflow step).
    await setFaults({ failNext: 1 });
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 4200,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_3333' },
    });
    expect(res.body.status).toBe('requires_action');
    await complete3ds(res.body.nextAction!.url, 'succeed');
    await expect
      .poll(async () => (await api('GET', `/v1/payments/${res.body.id}`)).body.status, { timeout: 15_000 })
      .toBe('succeeded');

    const { steps, workflowId, runId, webUiUrl } = await timelineWith(
      res.body.id,
      (s) => s.kind === 'workflow' && s.step === 'end',
    );
    expect(webUiUrl).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`,
    );
    const start = indexOf(steps, (s) => s.kind === 'workflow' && s.step === 'start');
    const authorize = indexOf(steps, (s) => s.step === 'authorize', start);
    expect(steps[authorize]).toMatchObject({
      kind: 'activity',
      name: 'authorizeCard',
      outcome: 'completed',
      attempts: 2,
    });
    const wait = indexOf(steps, (s) => s.kind === 'timer', authorize);
    // The 3-D Secure window ended early: the customer finished.
    expect(steps[wait]).toMatchObject({ outcome: 'canceled' });
    const webhook = indexOf(
      steps,
      (s) =>
        (s.kind === 'signal' || s.kind === 'update') && /complete.*action|action.*complete/i.test(s.name),
      authorize,
    );
    const reread = indexOf(steps, (s) => s.step === '3-D Secure re-read', webhook);
    // A sale: the gateway captured when the customer was done; no separate capture call.
    expect(steps.some((s) => s.step === 'capture')).toBe(false);
    const capture = indexOf(steps, (s) => s.step === 'record sale', reread);
    expect(steps[capture]).toMatchObject({ name: 'settleCardPayment', outcome: 'completed' });
    indexOf(steps, (s) => s.kind === 'workflow' && s.step === 'end', capture);
    // The create's update-with-start (a co-located API starts the workflow eagerly, without one);
    // who sent it (a process and host) is for operators only.
    if (!colocated({})) expect(steps.find((s) => s.kind === 'update' && s.name === 'settled')).toBeDefined();
    expect(steps.filter((s) => 'identity' in s)).toEqual([]);
  });

  it('shows a split payment whose card declines: the wallet hold, the decline, then its compensation', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId,
      amount: 4200,
      currency: 'USD',
      method: { type: 'split', token: 'tok_test_0000' },
    });
    expect(res.body.status).toBe('requires_payment_method');
    const { steps } = await timelineWith(res.body.id, (s) => s.step === 'void wallet hold');
    const hold = indexOf(steps, (s) => s.step === 'hold');
    const authorize = indexOf(steps, (s) => s.step === 'authorize', hold);
    const compensation = indexOf(
      steps,
      (s) => s.compensation === true && s.step === 'void wallet hold',
      authorize,
    );
    expect(steps[compensation]).toMatchObject({ kind: 'activity', outcome: 'completed' });
    // Every step has a start, and the closed ones a duration.
    for (const step of steps) {
      expect(Date.parse(step.startedAt)).not.toBeNaN();
      if (step.kind === 'activity') expect(step.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it("is 404 for an unknown payment and for another tenant's", async () => {
    expect((await api('GET', '/v1/payments/pay_000000000000000000000000/timeline')).status).toBe(404);
    const mine = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 100,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    const theirs = await api('GET', `/v1/payments/${mine.body.id}/timeline`, undefined, {
      key: TENANT_KEYS.other,
    });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toMatchObject({ code: 'payment_not_found' });
  });
});
