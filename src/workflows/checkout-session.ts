import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  log,
  setHandler,
} from '@temporalio/workflow';
import { store } from './activities.js';
import type { CheckoutSessionStatus, CheckoutSessionView } from '../domain/checkout.js';
import { ErrorType } from '../domain/errors.js';
import { paymentWorkflowId } from '../domain/ids.js';
import {
  cancelSignal,
  checkoutPaymentSignal,
  checkoutStatusQuery,
  expireCheckoutUpdate,
  type CheckoutSessionWorkflowInput,
} from './contract.js';

/**
 * One checkout session (`checkout:{tenant}:{sessionId}`), open until its payment succeeds or it
 * expires: at its `expiresAt` (a durable timer) or when the merchant expires it. The payment made
 * on its page signals how it ended; only a succeeded one completes the session (a declined card
 * leaves it open for another try). An expired session cancels a payment still waiting for its
 * customer (3-D Secure, or a declined attempt left open), so an abandoned page holds nothing.
 * The end and its event are written together (the outbox), once.
 */
export async function checkoutSessionWorkflow(
  input: CheckoutSessionWorkflowInput,
): Promise<CheckoutSessionView> {
  let status: CheckoutSessionStatus = 'open';
  let paidWith: string | undefined;
  let expireAsked = false;
  let ended: CheckoutSessionView | undefined;

  setHandler(checkoutStatusQuery, () => status);
  setHandler(checkoutPaymentSignal, ({ paymentId, status: paymentStatus }) => {
    if (paymentStatus === 'succeeded' && status === 'open') paidWith ??= paymentId;
  });
  setHandler(
    expireCheckoutUpdate,
    async () => {
      expireAsked = true;
      await condition(() => ended !== undefined);
      return ended!;
    },
    {
      validator: () => {
        if (status !== 'open' || paidWith !== undefined)
          throw ApplicationFailure.create({
            type: ErrorType.CheckoutSessionNotOpen,
            message: `the checkout session is ${paidWith ? 'complete' : status}`,
          });
      },
    },
  );

  const remaining = Date.parse(input.expiresAt) - Date.now();
  if (remaining > 0) await condition(() => paidWith !== undefined || expireAsked, remaining);
  const at = new Date().toISOString();
  const session = { tenantId: input.tenantId, sessionId: input.sessionId, at };
  if (paidWith !== undefined) {
    ended = await store.completeCheckoutSession({ ...session, paymentId: paidWith });
  } else {
    ended = await store.expireCheckoutSession(session);
    await cancelWaitingPayment(input);
  }
  status = ended.status;
  await condition(allHandlersFinished);
  return ended;
}

/** The order's payment, if it is waiting for the customer, is canceled; otherwise nothing changes. */
async function cancelWaitingPayment(input: CheckoutSessionWorkflowInput): Promise<void> {
  try {
    await getExternalWorkflowHandle(paymentWorkflowId(input.tenantId, input.orderId)).signal(cancelSignal);
  } catch (error) {
    // No payment was started (or it has ended): nothing to cancel.
    log.info('no running payment to cancel for the expired checkout session', { error: String(error) });
  }
}
