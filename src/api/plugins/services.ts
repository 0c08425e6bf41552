import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { verifyLedger } from '../../db/ledger-verify.js';
import type { Circuit } from '../../app/dependencies.js';
import { TemporalGateway } from '../../app/temporal.js';
import { PaymentService } from '../services/payments.js';
import { RefundService } from '../services/refunds.js';
import { WalletService } from '../services/wallets.js';
import { WebhookEndpointService } from '../../webhooks/endpoints.js';
import { createLogger } from '../../logger.js';
import { WebhookEgress } from '../../webhooks/egress.js';
import { SecretBox } from '../../webhooks/secrets.js';
import { CustomerTokens } from '../customer-tokens.js';
import { EventHub } from '../../events/hub.js';
import { createConnectorRegistry, type ConnectorRegistry } from '../../gateway/registry.js';

export interface Services {
  config: Config;
  /** Trips when Temporal stops answering, so requests get a fast 503 instead of a long wait. */
  temporalCircuit: Circuit;
  db: Database;
  temporal: Client;
  payments: PaymentService;
  wallets: WalletService;
  refunds: RefundService;
  webhookEndpoints: WebhookEndpointService;
  customerTokens: CustomerTokens;
  /** Status changes as PostgreSQL announces them, for the live streams. */
  eventHub: EventHub;
  ledger: { verify(): ReturnType<typeof verifyLedger> };
  /** The gateway connectors, built once per process: webhooks verify with them, /readyz pings them. */
  connectors: ConnectorRegistry;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface ServiceDeps {
  config: Config;
  db: Database;
  temporal: Client;
}

/** The API's services over PostgreSQL and Temporal; tests may hand the app their own. */
export function createServices({ config, db, temporal }: ServiceDeps): Services {
  const gateway = new TemporalGateway(temporal);
  const temporalCircuit = gateway.circuit;
  const temporalCall = gateway.call;
  return {
    config,
    temporalCircuit,
    db,
    temporal,
    payments: new PaymentService(db, temporal, config, temporalCall),
    wallets: new WalletService(db, temporal, config, temporalCall),
    refunds: new RefundService(db, temporal, config, temporalCall),
    webhookEndpoints: new WebhookEndpointService({
      db,
      box: new SecretBox(config.webhookEncryptionKey),
      egress: webhookEgress(config),
      temporal: gateway,
    }),
    customerTokens: new CustomerTokens(config.customerTokenSecret),
    eventHub: new EventHub(config.databaseUrl),
    ledger: { verify: () => verifyLedger(db) },
    connectors: createConnectorRegistry(config),
  };
}

/** The API's way out to webhook endpoints: it checks a URL at registration (workers send). */
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
