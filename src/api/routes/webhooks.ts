import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { findPaymentForWebhook } from '../../db/payments.js';
import { findRefundByGatewayId } from '../../db/refunds.js';
import { createConnectorRegistry } from '../../gateway/registry.js';
import { WebhookSignatureError } from '../../gateway/webhook-signature.js';
import { completeActionSignal, completeActionUpdate, refundSettledSignal } from '../../workflows/contract.js';
import { ProblemError } from '../problem.js';

/**
 * Gateway webhooks, one URL per connector (`/v1/webhooks/sandbox`, ...): the connector named in
 * the path verifies and parses its own webhook. The signature is verified over the raw bytes,
 * so this plugin keeps JSON bodies as Buffers (encapsulated: other routes still get parsed
 * JSON). A webhook only tells the workflow to look: the workflow re-reads the authorization
 * from the gateway, which makes duplicate and out-of-order deliveries harmless.
 */
export const webhookRoutes: FastifyPluginAsync = async (app) => {
  const { db, temporal, config } = app.services;
  const connectors = createConnectorRegistry(config);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.post<{ Params: { connector: string } }>(
    '/v1/webhooks/:connector',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const gateway = connectors.find(request.params.connector);
      if (!gateway)
        throw new ProblemError(404, 'connector_not_found', `no connector named ${request.params.connector}`);
      if (!Buffer.isBuffer(request.body))
        throw new ProblemError(400, 'invalid_webhook', 'expected a JSON body');
      let event;
      try {
        event = gateway.parseWebhook(request.body, request.headers);
      } catch (error) {
        if (error instanceof WebhookSignatureError)
          throw new ProblemError(400, 'invalid_signature', error.reason);
        throw new ProblemError(400, 'invalid_webhook', 'the webhook body is not a gateway event');
      }
      // A webhook that says the customer is still in the middle of 3-D Secure moves nothing.
      if (event.type === 'authorization.updated' && event.authorization.status !== 'requires_action') {
        const found = await findPaymentForWebhook(db, event.reference);
        // A connector's webhook only ever moves a payment that connector authorized.
        const payment = found?.connector === gateway.name ? found : undefined;
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
        // The workflow records the gateway's refund id right after the call; until then, let the
        // gateway retry the delivery.
        if (!refund) throw new ProblemError(503, 'refund_not_ready', 'refund not known yet; retry');
        if (refund.status === 'pending' || refund.status === 'requires_attention') {
          await temporal.workflow.getHandle(refund.workflowId).signal(refundSettledSignal, {
            status: event.refund.status,
            failureMessage: event.refund.failureMessage,
          });
        }
      }
      return reply.status(200).send({ received: true });
    },
  );
};
