import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { gatewayEventSeen, recordGatewayEvent } from '../../db/gateway-events.js';
import { findPaymentForWebhook } from '../../db/payments.js';
import { findRefundByGatewayId } from '../../db/refunds.js';
import type { WebhookEvent } from '../../gateway/port.js';
import { WebhookSignatureError } from '../../gateway/webhook-signature.js';
import { completeActionSignal, completeActionUpdate, refundSettledSignal } from '../../workflows/contract.js';
import { ProblemError } from '../problem.js';

/**
 * Gateway webhooks, one URL per connector (`/v1/webhooks/sandbox`, `/v1/webhooks/stripe`): the
 * connector named in the path verifies and parses its own webhook. The signature is verified
 * over the raw bytes, so this plugin keeps JSON bodies as Buffers (encapsulated: other routes
 * still get parsed JSON). Each tenant may have its own account (and signing secret) on a
 * connector: the webhook is tried against each account's secret, and moves only payments of the
 * tenants that account serves. An event already acted on (by the gateway's event id) is answered
 * 200 and moves nothing. A webhook only tells the workflow to look: the workflow re-reads the
 * authorization from the gateway, which makes duplicate and out-of-order deliveries harmless.
 */
export const webhookRoutes: FastifyPluginAsync = async (app) => {
  const { db, temporal, connectors } = app.services;
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  /** The account whose secret verifies the webhook, and the events it carries. */
  function verify(name: string, body: Buffer, headers: Record<string, string | string[] | undefined>) {
    const accounts = connectors.accounts(name);
    if (accounts.length === 0)
      throw new ProblemError(404, 'connector_not_found', `no connector named ${name}`);
    let signatureFailure: WebhookSignatureError | undefined;
    for (const account of accounts) {
      try {
        return { serves: account.serves, events: account.gateway.parseWebhook(body, headers) };
      } catch (error) {
        if (!(error instanceof WebhookSignatureError))
          throw new ProblemError(400, 'invalid_webhook', 'the webhook body is not a gateway event');
        signatureFailure ??= error;
      }
    }
    throw new ProblemError(400, 'invalid_signature', signatureFailure?.reason ?? 'signature_mismatch');
  }

  app.post<{ Params: { connector: string } }>(
    '/v1/webhooks/:connector',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const name = request.params.connector;
      if (!Buffer.isBuffer(request.body)) {
        if (connectors.accounts(name).length === 0)
          throw new ProblemError(404, 'connector_not_found', `no connector named ${name}`);
        throw new ProblemError(400, 'invalid_webhook', 'expected a JSON body');
      }
      const { serves, events } = verify(name, request.body, request.headers);
      const eventId = events[0]?.eventId;
      if (eventId !== undefined && (await gatewayEventSeen(db, name, eventId)))
        return reply.status(200).send({ received: true, duplicate: true });
      for (const event of events) await apply(name, serves, event);
      if (eventId !== undefined) await recordGatewayEvent(db, name, eventId);
      return reply.status(200).send({ received: true });
    },
  );

  async function apply(connector: string, serves: (tenantId: string) => boolean, event: WebhookEvent) {
    // A webhook that says the customer is still in the middle of 3-D Secure moves nothing.
    if (event.type === 'authorization.updated' && event.authorization.status !== 'requires_action') {
      const found = await findPaymentForWebhook(db, event.reference);
      // A connector's webhook only ever moves a payment that connector authorized, for a tenant
      // whose account signed it.
      const payment = found?.connector === connector && serves(found.tenantId) ? found : undefined;
      if (payment?.status === 'processing') {
        // The workflow has not recorded requires_action yet: a signal is remembered until it does.
        await temporal.workflow
          .getHandle(payment.workflowId)
          .signal(completeActionSignal, { authorizationId: event.authorization.id });
      } else if (payment?.status === 'requires_action') {
        try {
          await temporal.workflow
            .getHandle(payment.workflowId)
            .executeUpdate(completeActionUpdate, { args: [{ authorizationId: event.authorization.id }] });
        } catch (error) {
          // A duplicate that lost the race with the first delivery: already handled.
          if (!(error instanceof WorkflowUpdateFailedError)) throw error;
        }
      }
    }
    if (event.type === 'refund.updated' && event.refund.status !== 'pending') {
      const refund = await findRefundByGatewayId(db, event.refund.id);
      if (!refund) {
        // A refund made outside Paysaga (e.g. in the gateway's dashboard) names no payment: nothing
        // to move. One of ours is recorded right after the gateway call: until then, let the
        // gateway retry the delivery.
        if (event.reference === '') return;
        throw new ProblemError(503, 'refund_not_ready', 'refund not known yet; retry');
      }
      if (!serves(refund.tenantId)) return;
      if (refund.status === 'pending' || refund.status === 'requires_attention') {
        await temporal.workflow.getHandle(refund.workflowId).signal(refundSettledSignal, {
          status: event.refund.status,
          failureMessage: event.refund.failureMessage,
        });
      }
    }
  }
};
