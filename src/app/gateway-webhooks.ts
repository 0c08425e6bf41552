import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { gatewayEventSeen, recordGatewayEvent } from '../db/gateway-events.js';
import { findPaymentForWebhook } from '../db/payments.js';
import { findRefundByGatewayId } from '../db/refunds.js';
import { GatewayUnavailableError } from '../gateway/errors.js';
import type { WebhookEvent } from '../gateway/port.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { WebhookSignatureError } from '../gateway/webhook-signature.js';
import { completeActionSignal, completeActionUpdate, refundSettledSignal } from '../workflows/contract.js';
import type { CheckoutSessionService } from './checkout-sessions.js';
import { AppError } from './errors.js';
import type { PaymentMethodService } from './payment-methods.js';
import { isClosedWorkflow, type TemporalGateway } from './temporal.js';

export type WebhookHeaders = Record<string, string | string[] | undefined>;

/**
 * Webhooks from the gateways: the connector named verifies and parses its own webhook. Each
 * tenant may have its own account (and signing secret) on a connector: the webhook is tried
 * against each account's secret, and moves only payments of the tenants that account serves. An
 * event already acted on (by the gateway's event id) moves nothing. A webhook only tells the
 * workflow to look: the workflow re-reads the authorization from the gateway, which makes
 * duplicate and out-of-order deliveries harmless.
 */
export class GatewayWebhooks {
  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    private readonly connectors: ConnectorRegistry,
    private readonly config: Pick<Config, 'syncWaitMs'>,
    private readonly checkoutSessions?: Pick<CheckoutSessionService, 'gatewayUpdated'>,
    private readonly paymentMethods?: Pick<PaymentMethodService, 'gatewayUpdated'>,
  ) {}

  /** `body`: the raw bytes the signature covers, or undefined when the request carried none. */
  async receive(
    connector: string,
    body: Buffer | undefined,
    headers: WebhookHeaders,
  ): Promise<{ duplicate: boolean }> {
    const accounts = this.accountsOf(connector);
    if (!body) throw new AppError('invalid_request', 'invalid_webhook', 'expected a JSON body');
    const { serves, events } = await verify(accounts, body, headers);
    const eventId = events[0]?.eventId;
    if (eventId !== undefined && (await gatewayEventSeen(this.db, connector, eventId)))
      return { duplicate: true };
    for (const event of events) await this.apply(connector, serves, event);
    if (eventId !== undefined) await recordGatewayEvent(this.db, connector, eventId);
    return { duplicate: false };
  }

  private accountsOf(connector: string) {
    const accounts = this.connectors.accounts(connector);
    if (accounts.length === 0)
      throw new AppError('not_found', 'connector_not_found', `no connector named ${connector}`);
    return accounts;
  }

  /** Tells the payment's workflow to re-read the gateway; one that has finished needs nothing. */
  private async signalAction(workflowId: string, action: { authorizationId: string }, deadline: number) {
    try {
      await this.temporal.run(deadline, (client) =>
        client.workflow.getHandle(workflowId).signal(completeActionSignal, action),
      );
    } catch (error) {
      // It finished meanwhile (the webhook's news reached it another way).
      if (!isClosedWorkflow(error)) throw error;
    }
  }

  private async apply(connector: string, serves: (tenantId: string) => boolean, event: WebhookEvent) {
    const deadline = () => Date.now() + this.config.syncWaitMs;
    // A webhook that says the customer is still in the middle of 3-D Secure moves nothing.
    if (event.type === 'authorization.updated' && event.authorization.status !== 'requires_action') {
      const found = await findPaymentForWebhook(this.db, event.reference);
      // A connector's webhook only ever moves a payment that connector authorized, for a tenant
      // whose account signed it.
      const payment = found?.connector === connector && serves(found.tenantId) ? found : undefined;
      const action = { authorizationId: event.authorization.id };
      if (payment?.status === 'processing') {
        // The workflow has not recorded requires_action yet: a signal is remembered until it does.
        await this.signalAction(payment.workflowId, action, deadline());
      } else if (payment?.status === 'requires_action') {
        try {
          await this.temporal.run(deadline(), (client) =>
            client.workflow
              .getHandle(payment.workflowId)
              .executeUpdate(completeActionUpdate, { args: [action] }),
          );
        } catch (error) {
          // A duplicate that lost the race with the first delivery, or a payment the customer's
          // return to the shop moved on and finished meanwhile: already handled.
          if (error instanceof WorkflowUpdateFailedError || isClosedWorkflow(error)) return;
          // Another message reached the workflow while its task ran (PayPal sends the capture's
          // webhook while the approval's re-read is running): Temporal drops the update with that
          // task. A signal is kept whatever the task does.
          if (!droppedWithTask(error)) throw error;
          await this.signalAction(payment.workflowId, action, deadline());
        }
      }
    }
    if (event.type === 'payment_method.updated')
      await this.paymentMethods?.gatewayUpdated(connector, serves, event);
    if (event.type === 'checkout_session.updated' && event.session.status !== 'open')
      await this.checkoutSessions?.gatewayUpdated(connector, serves, event);
    if (event.type === 'refund.updated' && event.refund.status !== 'pending') {
      const refund = await findRefundByGatewayId(this.db, event.refund.id);
      if (!refund) {
        // A refund made outside Paysaga (e.g. in the gateway's dashboard) names no payment: nothing
        // to move. One of ours is recorded right after the gateway call: until then, let the
        // gateway retry the delivery.
        if (event.reference === '') return;
        throw new AppError('unavailable', 'refund_not_ready', 'refund not known yet; retry');
      }
      if (!serves(refund.tenantId)) return;
      if (refund.status === 'pending' || refund.status === 'requires_attention') {
        const settled = { status: event.refund.status, failureMessage: event.refund.failureMessage };
        await this.temporal.run(deadline(), (client) =>
          client.workflow.getHandle(refund.workflowId).signal(refundSettledSignal, settled),
        );
      }
    }
  }
}

/** The account whose secret verifies the webhook, and the events it carries. */
async function verify(
  accounts: ReturnType<ConnectorRegistry['accounts']>,
  body: Buffer,
  headers: WebhookHeaders,
) {
  let signatureFailure: WebhookSignatureError | undefined;
  for (const account of accounts) {
    try {
      return { serves: account.serves, events: await account.gateway.parseWebhook(body, headers) };
    } catch (error) {
      // A certificate that could not be fetched (PayPal): the gateway delivers again later.
      if (error instanceof GatewayUnavailableError)
        throw new AppError(
          'unavailable',
          'webhook_unverifiable',
          'the signature cannot be checked now; retry',
        );
      if (!(error instanceof WebhookSignatureError))
        throw new AppError('invalid_request', 'invalid_webhook', 'the webhook body is not a gateway event');
      signatureFailure ??= error;
    }
  }
  throw new AppError(
    'invalid_request',
    'invalid_signature',
    signatureFailure?.reason ?? 'signature_mismatch',
  );
}

/** Temporal dropped an update because the workflow task that was to run it failed (the text is in the cause). */
function droppedWithTask(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause)
    if (/unexpected workflow task failure/i.test(cause.message)) return true;
  return false;
}
