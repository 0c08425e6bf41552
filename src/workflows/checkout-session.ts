import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
} from '@temporalio/workflow';
import { gatewayActivities, store } from './activities.js';
import {
  checkoutWorkflowId,
  type CheckoutSessionStatus,
  type CheckoutSessionView,
} from '../domain/checkout.js';
import { ErrorType } from '../domain/errors.js';
import { gatewayIdempotencyKey, paymentWorkflowId } from '../domain/ids.js';
import { workflowIdOf } from './ids.js';
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
 * Opened by an integration profile (`announce`), its first step writes `checkout_session.created`
 * (the session and its page's URL); the end and its event are written together (the outbox), once.
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

  // Sessions started before the announcement existed have no such step in their history.
  if (input.announce && patched('checkout-session-created'))
    await store.announceCheckoutSession({ tenantId: input.tenantId, sessionId: input.sessionId });

  const remaining = Date.parse(input.expiresAt) - Date.now();
  if (remaining > 0) await condition(() => paidWith !== undefined || expireAsked, remaining);
  const at = new Date().toISOString();
  const session = { tenantId: input.tenantId, sessionId: input.sessionId, at };
  // The connector's page is expired first, so nobody pays there once Paysaga's session has
  // ended. If its customer paid in the meantime, the payment the gateway's webhook starts
  // completes the session instead (within a day of the webhook's retries).
  if (paidWith === undefined && input.gateway && (await expireGatewayPage(input)) === 'complete')
    await condition(() => paidWith !== undefined, GATEWAY_PAYMENT_WAIT);
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

/** How long a session whose gateway page was paid waits for that payment's webhook. */
const GATEWAY_PAYMENT_WAIT = '1 day';

/**
 * The connector's page for the session ends with it; returns how it ended there. A gateway that
 * refuses or stays down past the retry budget does not keep Paysaga's session open: its page then
 * ends on the gateway's own clock, and a payment made there meanwhile is still recorded (its
 * webhook makes the order's payment), as a payment that outlives an expired session is.
 */
async function expireGatewayPage(input: CheckoutSessionWorkflowInput): Promise<string> {
  const gateway = input.gateway!;
  try {
    const ended = await gatewayActivities().expireGatewayCheckoutSession({
      connector: gateway.connector,
      tenantId: input.tenantId,
      idempotencyKey: gatewayIdempotencyKey(checkoutWorkflowId(input.tenantId, input.sessionId), 'expire'),
      sessionId: gateway.sessionId,
    });
    return ended.status;
  } catch (error) {
    log.warn("the gateway's checkout page was not expired", {
      gatewaySessionId: gateway.sessionId,
      error: String(error),
    });
    return 'unknown';
  }
}

/** The order's payment, if it is waiting for the customer, is canceled; otherwise nothing changes. */
async function cancelWaitingPayment(input: CheckoutSessionWorkflowInput): Promise<void> {
  try {
    await getExternalWorkflowHandle(workflowIdOf(paymentWorkflowId(input.tenantId, input.orderId))).signal(
      cancelSignal,
    );
  } catch (error) {
    // No payment was started (or it has ended): nothing to cancel.
    log.info('no running payment to cancel for the expired checkout session', { error: String(error) });
  }
}
