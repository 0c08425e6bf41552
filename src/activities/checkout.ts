import {
  checkoutSubject,
  checkoutWorkflowId,
  publicCheckoutSession,
  type CheckoutSessionView,
} from '../domain/checkout.js';
import { cloudEvent, type CloudEvent } from '../domain/events.js';
import type { Executor } from '../db/client.js';
import { endCheckoutSession, findCheckoutSession } from '../db/checkout-sessions.js';
import { insertEvent } from '../db/payments.js';
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

/**
 * The session's first event: the session as the API answered its create, `url` included (the
 * hosted page at `publicUrl`, or the connector's page), for a system that created it from a
 * broker message and has no HTTP answer to read that URL from. Its id, like the end's, comes from
 * the session's workflow, so it is written once whatever the retries.
 */
export function checkoutCreatedEvent(view: CheckoutSessionView, publicUrl: string): CloudEvent {
  return cloudEvent({
    workflowId: checkoutWorkflowId(view.tenantId, view.id),
    seq: 1,
    type: 'checkout_session.created',
    subject: checkoutSubject(view.id),
    tenantId: view.tenantId,
    time: view.createdAt,
    data: publicCheckoutSession(view, publicUrl),
  });
}

/**
 * The checkout session workflow's writes, through the outbox: its announcement, its end and the
 * end's event. `publicUrl` is the API's (PUBLIC_URL), which the hosted page's URL is built from.
 */
export function createCheckoutActivities(db: Executor, publicUrl: string) {
  return {
    /**
     * Writes `checkout_session.created` for the stored session; false, writing nothing, when no
     * session is stored (its create failed after starting the workflow and deleted it: nobody was
     * given its URL).
     */
    async announceCheckoutSession(input: { tenantId: string; sessionId: string }): Promise<boolean> {
      const view = await findCheckoutSession(db, input.tenantId, input.sessionId);
      if (!view) {
        activityInfo('checkout session not stored: nothing to announce', { sessionId: input.sessionId });
        return false;
      }
      // The event table's unique id makes a retried write a no-op.
      await insertEvent(db, checkoutCreatedEvent(view, publicUrl));
      activityInfo('checkout session announced', { sessionId: view.id });
      return true;
    },

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
