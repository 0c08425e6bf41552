import { describe, expect, it } from 'vitest';
import { initialPaymentView, type PaymentView } from '../../src/domain/payment.js';
import { SettledPayments } from '../../src/events/settled.js';

const view = (id: string, status: PaymentView['status']): PaymentView => ({
  ...initialPaymentView({
    paymentId: id,
    tenantId: 't',
    workflowId: `payment:t:${id}`,
    request: {
      orderId: id,
      customerId: 'c',
      amount: 100,
      currency: 'USD',
      method: { type: 'wallet' },
      capture: 'automatic',
    },
    requestHash: 'h',
    connector: 'sandbox',
    now: new Date(0),
  }),
  status,
});

const pending = Symbol('pending');
const settledNow = (watch: { settled: Promise<PaymentView> }) =>
  Promise.race([watch.settled, Promise.resolve(pending)]);

describe('SettledPayments', () => {
  it("answers every wait for a payment with its first settled state, and only that payment's", async () => {
    const settled = new SettledPayments();
    const first = settled.watch('pay_1');
    const second = settled.watch('pay_1');
    const other = settled.watch('pay_2');
    settled.recorded(view('pay_1', 'processing'));
    expect(await settledNow(first)).toBe(pending);
    settled.recorded(view('pay_1', 'succeeded'));
    expect(await settledNow(first)).toMatchObject({ id: 'pay_1', status: 'succeeded' });
    expect(await settledNow(second)).toMatchObject({ id: 'pay_1', status: 'succeeded' });
    expect(await settledNow(other)).toBe(pending);
    other.stop();
    expect(settled.size).toBe(0);
  });

  it("answers with an earlier run's payment whatever its status", async () => {
    const settled = new SettledPayments();
    const watch = settled.watch('pay_1');
    settled.yielded('pay_1', view('pay_old', 'processing'));
    expect(await settledNow(watch)).toMatchObject({ id: 'pay_old' });
  });

  it('forgets a wait that stopped, and a state no one waits for', async () => {
    const settled = new SettledPayments();
    const watch = settled.watch('pay_1');
    watch.stop();
    settled.recorded(view('pay_1', 'succeeded'));
    expect(await settledNow(watch)).toBe(pending);
    expect(settled.size).toBe(0);
  });
});
