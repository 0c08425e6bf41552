import { randomBytes } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config.js';
import { returnUrlRefusal } from '../domain/return-url.js';
import type { Executor } from '../db/client.js';
import {
  deleteCheckoutSession,
  findCheckoutSession,
  findCheckoutSessionById,
  findLiveCheckoutSession,
  insertCheckoutSession,
  setCheckoutGatewaySession,
} from '../db/checkout-sessions.js';
import { GatewayRequestError } from '../gateway/errors.js';
import { gatewayIdempotencyKeyFor } from '../gateway/idempotency-key.js';
import type { WebhookEvent } from '../gateway/port.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { gatewayIdempotencyKey } from '../domain/ids.js';
import { findPaymentByOrder } from '../db/payments.js';
import { getWalletBalances } from '../db/wallets.js';
import { CHECKOUT_SESSION_ID, checkoutWorkflowId, type CheckoutSessionView } from '../domain/checkout.js';
import { ErrorType } from '../domain/errors.js';
import type { PaymentView } from '../domain/payment.js';
import { expireCheckoutUpdate, TASK_QUEUE } from '../workflows/contract.js';
import { checkoutSessionWorkflow } from '../workflows/checkout-session.js';
import { AppError } from './errors.js';
import type { PaymentService } from './payments.js';
import { isClosedWorkflow, type TemporalGateway } from './temporal.js';

export type CreateCheckoutSession = Pick<
  CheckoutSessionView,
  | 'orderId'
  | 'customerId'
  | 'amount'
  | 'currency'
  | 'description'
  | 'successUrl'
  | 'cancelUrl'
  | 'allowedMethods'
  | 'paymentLinkId'
> & { expiresInSeconds: number };

/** What the customer chose on the page: a card token from the gateway, or the wallet. */
export type CheckoutChoice = { method: 'card'; token: string } | { method: 'wallet' } | { method: 'paypal' };

/** What the hosted page shows. */
export interface CheckoutPage {
  session: CheckoutSessionView;
  /** Wallet is allowed and the customer's wallet holds the amount in the session's currency. */
  walletCovers: boolean;
  /** The order's payment, if one was started. */
  payment?: PaymentView | undefined;
}

/** Reads and the expire call answer within this. */
const QUICK_CALL_MS = 5_000;

const notFound = (id: string) =>
  new AppError('not_found', 'checkout_session_not_found', `no checkout session ${id}`);
const notOpen = (status: string) =>
  new AppError('conflict', 'checkout_session_not_open', `the checkout session is ${status}`);

/**
 * Hosted checkout sessions: the merchant's API (create, read, expire) and the customer's page
 * (show, pay, come back from 3-D Secure). Each session is a workflow that expires it on time;
 * paying goes through the payments' own use case, for the session's order.
 */
export class CheckoutSessionService {
  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    private readonly payments: Pick<PaymentService, 'create' | 'afterCustomerAction'>,
    private readonly config: Pick<Config, 'publicUrl' | 'syncWaitMs' | 'returnUrlAllowHttpLoopback'>,
    private readonly connectors?: Pick<ConnectorRegistry, 'connectorFor' | 'find'> &
      Partial<Pick<ConnectorRegistry, 'routeFor'>>,
  ) {}

  /**
   * A new open session for the order. One order has at most one session open (or complete):
   * another is refused with 409 naming the open one, so a customer is never sent two pages that
   * could each charge the order; an expired one may be followed by a new one.
   */
  /**
   * `announce`: the session's workflow writes `checkout_session.created` first (a session an
   * integration profile opens: its system learns the page's URL from that event).
   */
  async create(
    tenantId: string,
    body: CreateCheckoutSession,
    options: { announce?: boolean | undefined } = {},
  ): Promise<CheckoutSessionView> {
    // The customer's browser is sent to both: the same rule as a payment's returnUrl.
    const policy = { allowHttpLoopback: this.config.returnUrlAllowHttpLoopback };
    const refusals = [
      returnUrlRefusal(body.successUrl, policy, 'successUrl'),
      returnUrlRefusal(body.cancelUrl, policy, 'cancelUrl'),
    ].filter((refusal) => refusal !== undefined);
    if (refusals.length > 0) throw new AppError('invalid', 'return_url_not_allowed', refusals.join('; '));
    // PayPal on the page needs a PayPal account of the tenant's: refused here, not at the customer.
    if (body.allowedMethods.includes('paypal') && this.connectors?.routeFor) {
      const route = this.connectors.routeFor(tenantId, {
        method: 'paypal',
        currency: body.currency,
        amount: body.amount,
      });
      if (route.connectors.length === 0)
        throw new AppError(
          'invalid',
          'method_not_supported',
          'no connector of this account takes paypal payments',
        );
    }
    const now = new Date();
    const { expiresInSeconds, ...fields } = body;
    const view: CheckoutSessionView = {
      ...fields,
      id: `cs_${randomBytes(16).toString('hex')}`,
      tenantId,
      status: 'open',
      expiresAt: new Date(now.getTime() + expiresInSeconds * 1000).toISOString(),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    if (!(await insertCheckoutSession(this.db, view))) {
      const live = await findLiveCheckoutSession(this.db, tenantId, body.orderId);
      if (live?.status === 'complete')
        throw new AppError(
          'conflict',
          'order_already_paid',
          `order ${body.orderId} was paid through ${live.id}`,
        );
      throw new AppError(
        'conflict',
        'checkout_session_exists',
        `order ${body.orderId} has an open checkout session${live ? ` ${live.id}` : ''}; expire it first`,
        { extensions: live ? { checkoutSessionId: live.id } : {} },
      );
    }
    try {
      const gateway = await this.openGatewayPage(view);
      if (gateway) view.gateway = gateway;
      await this.temporal.run(Date.now() + QUICK_CALL_MS, (client) =>
        client.workflow.start(checkoutSessionWorkflow, {
          workflowId: checkoutWorkflowId(tenantId, view.id),
          taskQueue: TASK_QUEUE,
          args: [
            {
              tenantId,
              sessionId: view.id,
              orderId: view.orderId,
              expiresAt: view.expiresAt,
              ...(gateway ? { gateway: { connector: gateway.connector, sessionId: gateway.sessionId } } : {}),
              ...(options.announce ? { announce: true } : {}),
            },
          ],
        }),
      );
    } catch (error) {
      // Nobody has seen the session yet: without its workflow it would never expire.
      await deleteCheckoutSession(this.db, view.id).catch(() => undefined);
      throw error;
    }
    return view;
  }

  /**
   * A tenant whose connector has its own hosted page (Stripe Checkout) gets a session there, and
   * its customer is sent to it. Called here rather than from the session's workflow: the create
   * answers with that page's URL in the same round trip, and the gateway's Idempotency-Key (from
   * the session's id) makes the call once whatever the retries. A failure deletes the session
   * (the caller retries); a page the gateway made anyway is never sent to anyone and expires on
   * the gateway's clock. Expiring it, which must happen with nobody asking, is the workflow's.
   */
  private async openGatewayPage(view: CheckoutSessionView): Promise<CheckoutSessionView['gateway']> {
    if (!this.connectors) return undefined;
    const connector = this.connectors.connectorFor(view.tenantId);
    const gateway = this.connectors.find(connector, view.tenantId);
    if (!gateway?.createCheckoutSession) return undefined;
    let page;
    try {
      page = await gateway.createCheckoutSession({
        idempotencyKey: gatewayIdempotencyKeyFor(
          gatewayIdempotencyKey(checkoutWorkflowId(view.tenantId, view.id), 'create'),
        ),
        reference: view.id,
        tenantId: view.tenantId,
        orderId: view.orderId,
        amount: view.amount,
        currency: view.currency,
        name: view.description ?? `Order ${view.orderId}`,
        successUrl: view.successUrl,
        cancelUrl: view.cancelUrl,
        expiresAt: view.expiresAt,
      });
    } catch (error) {
      if (error instanceof GatewayRequestError)
        throw new AppError(
          'invalid',
          error.code,
          `the gateway refused the checkout session: ${error.message}`,
        );
      throw new AppError('unavailable', 'gateway_unavailable', 'the gateway did not answer; retry');
    }
    const recorded = { connector, sessionId: page.id, url: page.url };
    await setCheckoutGatewaySession(this.db, view.id, recorded);
    return recorded;
  }

  async get(tenantId: string, id: string): Promise<CheckoutSessionView> {
    const session = CHECKOUT_SESSION_ID.test(id)
      ? await findCheckoutSession(this.db, tenantId, id)
      : undefined;
    if (!session) throw notFound(id);
    return session;
  }

  /** Open → expired (the workflow writes it and its event); a session that has ended is a 409. */
  async expire(tenantId: string, id: string): Promise<CheckoutSessionView> {
    const session = await this.get(tenantId, id);
    if (session.status !== 'open') throw notOpen(session.status);
    try {
      return await this.temporal.run(Date.now() + this.config.syncWaitMs, (client) =>
        client.workflow.getHandle(checkoutWorkflowId(tenantId, id)).executeUpdate(expireCheckoutUpdate),
      );
    } catch (error) {
      const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === ErrorType.CheckoutSessionNotOpen)
        throw notOpen((await this.get(tenantId, id)).status);
      if (isClosedWorkflow(error)) throw notOpen((await this.get(tenantId, id)).status);
      throw error;
    }
  }

  /**
   * The gateway's webhook about a session's page on it (verified, and signed by the account
   * `serves` tells the tenants of). Paid: the order's payment is made from the charge the page
   * made, and it completes the session as a payment on Paysaga's page does. Expired: the session
   * expires. Anything naming a session that is not this connector's page for a served tenant
   * moves nothing.
   */
  async gatewayUpdated(
    connector: string,
    serves: (tenantId: string) => boolean,
    event: Extract<WebhookEvent, { type: 'checkout_session.updated' }>,
  ): Promise<void> {
    const session = CHECKOUT_SESSION_ID.test(event.reference)
      ? await findCheckoutSessionById(this.db, event.reference)
      : undefined;
    if (
      !session ||
      session.tenantId !== event.tenantId ||
      !serves(session.tenantId) ||
      session.gateway?.connector !== connector ||
      session.gateway.sessionId !== event.session.id
    )
      return;
    const authorizationId = event.session.authorizationId;
    if (event.session.status === 'complete' && authorizationId) {
      // Also after Paysaga's session expired: the customer was charged, so the order's payment
      // records it (refundable as any other).
      await this.payments.create(
        session.tenantId,
        {
          orderId: session.orderId,
          customerId: session.customerId,
          amount: session.amount,
          currency: session.currency,
          method: { type: 'card', token: authorizationId },
          capture: 'automatic',
          description: session.description,
        },
        { wait: false, checkoutSessionId: session.id, paidOnGateway: { authorizationId } },
      );
    } else if (event.session.status === 'expired' && session.status === 'open') {
      await this.expire(session.tenantId, session.id).catch((error: unknown) => {
        // Ended meanwhile (paid, or expired by Paysaga): nothing left to do.
        if (!(error instanceof AppError && error.code === 'checkout_session_not_open')) throw error;
      });
    }
  }

  /** The page of a session, by its id alone (the capability); undefined for an unknown one. */
  async page(id: string): Promise<CheckoutPage | undefined> {
    const session = CHECKOUT_SESSION_ID.test(id) ? await findCheckoutSessionById(this.db, id) : undefined;
    if (!session) return undefined;
    const [balances, payment] = await Promise.all([
      session.allowedMethods.includes('wallet')
        ? getWalletBalances(this.db, session.tenantId, session.customerId)
        : Promise.resolve([]),
      findPaymentByOrder(this.db, session.tenantId, session.orderId),
    ]);
    const walletCovers = balances.some(
      (balance) => balance.currency === session.currency && Number(balance.available) >= session.amount,
    );
    return { session, walletCovers, payment };
  }

  /**
   * Pays the session's order with the customer's choice. The payment is the order's, made with
   * the session's amount and currency; the gateway sends the customer back to the session's
   * return route after 3-D Secure. Throws `AppError` for what the customer is told on the page.
   */
  async pay(session: CheckoutSessionView, choice: CheckoutChoice): Promise<PaymentView> {
    // Its customer pays on the gateway's page; a payment here too could charge the order twice.
    if (session.gateway)
      throw new AppError('conflict', 'checkout_on_gateway', "this checkout is paid on the gateway's page");
    if (!session.allowedMethods.includes(choice.method))
      throw new AppError(
        'invalid',
        'method_not_allowed',
        `this checkout does not take ${choice.method} payments`,
      );
    const outcome = await this.payments.create(
      session.tenantId,
      {
        orderId: session.orderId,
        customerId: session.customerId,
        amount: session.amount,
        currency: session.currency,
        method: choice.method === 'card' ? { type: 'card', token: choice.token } : { type: choice.method },
        capture: 'automatic',
        description: session.description,
      },
      {
        wait: true,
        gatewayReturnUrl: `${this.config.publicUrl}/checkout/${session.id}/return`,
        checkoutSessionId: session.id,
      },
    );
    return outcome.payment;
  }

  /**
   * The customer is back from 3-D Secure: the payment's workflow re-reads the gateway (as the
   * gateway's webhook makes it do), so the page knows the outcome without waiting for the webhook.
   */
  async returned(session: CheckoutSessionView): Promise<PaymentView | undefined> {
    const payment = await findPaymentByOrder(this.db, session.tenantId, session.orderId);
    return payment && this.payments.afterCustomerAction(payment, this.config.syncWaitMs);
  }
}
