import { checkoutSubject, checkoutWorkflowId, type CheckoutSessionView } from '../domain/checkout.js';
import { cloudEvent, type CloudEvent } from '../domain/events.js';
import type { Executor } from '../db/client.js';
import { endCheckoutSession } from '../db/checkout-sessions.js';
import { activityInfo } from './log.js';

/**
 * A session's event: one per session (it ends once), its id derived from the session's workflow
 * so a retried activity writes it once. The data is the session as the API shows it.
 */
export function checkoutEvent(view: CheckoutSessionView, type: string): CloudEvent {
  const { tenantId: _tenant, gateway, ...rest } = view;
  // The gateway's page as the API names it.
  const data = gateway
    ? { ...rest, connector: gateway.connector, gatewaySessionId: gateway.sessionId }
    : rest;
  return cloudEvent({
    workflowId: checkoutWorkflowId(view.tenantId, view.id),
    seq: 1,
    type,
    subject: checkoutSubject(view.id),
    tenantId: view.tenantId,
    time: view.updatedAt,
    data,
  });
}

/** The checkout session workflow's writes: its end and its event, through the outbox. */
export function createCheckoutActivities(db: Executor) {
  return {
    async completeCheckoutSession(input: {
      tenantId: string;
      sessionId: string;
      paymentId: string;
      at: string;
    }): Promise<CheckoutSessionView> {
      const view = await endCheckoutSession(
        db,
        {
          tenantId: input.tenantId,
          id: input.sessionId,
          status: 'complete',
          paymentId: input.paymentId,
          at: input.at,
        },
        (ended) => checkoutEvent(ended, 'checkout_session.completed'),
      );
      activityInfo('checkout session ended', { status: view.status, sessionId: view.id });
      return view;
    },

    async expireCheckoutSession(input: {
      tenantId: string;
      sessionId: string;
      at: string;
    }): Promise<CheckoutSessionView> {
      const view = await endCheckoutSession(
        db,
        { tenantId: input.tenantId, id: input.sessionId, status: 'expired', at: input.at },
        (ended) => checkoutEvent(ended, 'checkout_session.expired'),
      );
      activityInfo('checkout session ended', { status: view.status, sessionId: view.id });
      return view;
    },
  };
}
