import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { createApplication, type Application, type ApplicationDeps } from '../../app/index.js';
import { WebhookEndpointService } from '../services/webhook-endpoints.js';
import { createLogger } from '../../logger.js';
import { WebhookEgress } from '../../webhooks/egress.js';
import { SecretBox } from '../../webhooks/secrets.js';
import { CustomerTokens } from '../customer-tokens.js';

/** The application's use cases, and what only the HTTP door has. */
export interface Services extends Application {
  webhookEndpoints: WebhookEndpointService;
  customerTokens: CustomerTokens;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** The API's services over PostgreSQL and Temporal; tests may hand the app their own. */
export function createServices(deps: ApplicationDeps): Services {
  const { config, db } = deps;
  const application = createApplication(deps);
  return {
    ...application,
    webhookEndpoints: new WebhookEndpointService({
      db,
      box: new SecretBox(config.webhookEncryptionKey),
      egress: webhookEgress(config),
      temporal: application.temporal.client,
      temporalCall: application.temporal.call,
    }),
    customerTokens: new CustomerTokens(config.customerTokenSecret),
  };
}

/** The API's way out to webhook endpoints (a manual retry sends from here); raw failures are logged. */
function webhookEgress(config: Config): WebhookEgress {
  const logger = createLogger(config.logLevel, 'api');
  return new WebhookEgress({
    allowedNetworks: config.webhookAllowedNetworks,
    log: (fields, message) => logger.info(fields, message),
  });
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorate('services', services);
  },
  { name: 'services' },
);
