import { ProfileStreams } from './profile-streams.js';
import { loadProfiles } from '../profiles/registry.js';
import { Client, type ConnectionLike } from '@temporalio/client';
import type { Config } from '../config.js';
import { connectDatabase, migrateDatabase, type Database } from '../db/client.js';
import { verifyLedger } from '../db/ledger-verify.js';
import { EventHub } from '../events/hub.js';
import type { SettledPayments } from '../events/settled.js';
import { createConnectorRegistry } from '../gateway/registry.js';
import { RoutingService } from './routing.js';
import { clientInterceptors } from '../tracing.js';
import { CheckoutSessionService } from './checkout-sessions.js';
import { CustomerService } from './customers.js';
import { GatewayWebhooks } from './gateway-webhooks.js';
import { PaymentMethodService } from './payment-methods.js';
import { IdempotencyKeys } from './idempotency.js';
import { SecretBox } from '../webhooks/secrets.js';
import { WebhookEgress } from '../webhooks/egress.js';
import { WebhookEndpointService } from '../webhooks/endpoints.js';
import { PaymentLinkService } from './payment-links.js';
import { PaymentService } from './payments.js';
import { ReadinessCheck } from './readiness.js';
import { RefundService } from './refunds.js';
import { ReportService } from './reports.js';
import { PaymentStreams } from './streams.js';
import { TemporalGateway } from './temporal.js';
import { connectTemporal } from './temporal-connection.js';
import { TimelineService } from './timeline.js';
import { WalletService } from './wallets.js';
import { IdentityDirectory } from './identity.js';
import { TenantAdmin } from './tenant-admin.js';

export interface ApplicationDeps {
  config: Config;
  db: Database;
  temporal: Client;
  /**
   * The co-located mode (src/colocated/main.ts): the payments this process's worker settles.
   * `temporal` is then a client over the worker's own connection, so payments start eagerly.
   */
  settled?: SettledPayments | undefined;
}

/** What starts payments and refunds: all the broker consumer needs, and what the API shares with it. */
export interface PaymentUseCases {
  /** Tenants and API keys as stored, followed as they change (call `start()` before serving). */
  identity: IdentityDirectory;
  /** The one way to Temporal (breaker, deadlines) of the process. */
  temporal: TemporalGateway;
  payments: PaymentService;
  refunds: RefundService;
  checkoutSessions: CheckoutSessionService;
  paymentMethods: PaymentMethodService;
}

/** The use cases of the API, over PostgreSQL and Temporal. */
export interface Application extends PaymentUseCases {
  config: Config;
  wallets: WalletService;
  timeline: TimelineService;
  reports: ReportService;
  routing: RoutingService;
  gatewayWebhooks: GatewayWebhooks;
  readiness: ReadinessCheck;
  /** The live streams' reads (the LISTEN connection is opened by the first stream). */
  streams: PaymentStreams;
  idempotencyKeys: IdempotencyKeys;
  webhookEndpoints: WebhookEndpointService;
  paymentLinks: PaymentLinkService;
  customers: CustomerService;
  /** The admin API's tenants, keys and audit trail. */
  tenantAdmin: TenantAdmin;
  /** Integration profiles' messages on customers' live streams (PROFILES). */
  profileStreams: ProfileStreams;
  ledger: { verify(): ReturnType<typeof verifyLedger> };
}

export function createPaymentUseCases(
  { config, db, temporal, settled }: ApplicationDeps,
  // The gateway connectors, built once per process: sessions open their pages with them.
  connectors = createConnectorRegistry(config),
): PaymentUseCases {
  const identity = new IdentityDirectory(db, config, { databaseUrl: config.databaseUrl });
  // What a tenant chose for itself (stored) wins over what the environment says for it.
  connectors.useTenantRouting(identity);
  const gateway = new TemporalGateway(temporal);
  const paymentMethods = new PaymentMethodService(db, connectors, config);
  const payments = new PaymentService(db, gateway, paymentMethods, connectors, config, settled);
  return {
    identity,
    temporal: gateway,
    payments,
    paymentMethods,
    refunds: new RefundService(db, gateway, config),
    checkoutSessions: new CheckoutSessionService(db, gateway, payments, config, connectors),
  };
}

/** The API's composition root: each use case built once, over one Temporal gateway. */
export function createApplication(deps: ApplicationDeps): Application {
  const { config, db } = deps;
  // The gateway connectors, built once per process: webhooks verify with them, readiness pings them.
  const connectors = createConnectorRegistry(config);
  const core = createPaymentUseCases(deps, connectors);
  const { temporal, payments, checkoutSessions } = core;
  const box = new SecretBox(config.webhookEncryptionKey);
  return {
    ...core,
    config,
    wallets: new WalletService(db, temporal, config, connectors, core.paymentMethods),
    timeline: new TimelineService(payments, temporal, config),
    reports: new ReportService(db, config),
    routing: new RoutingService(connectors),
    gatewayWebhooks: new GatewayWebhooks(
      db,
      temporal,
      connectors,
      config,
      checkoutSessions,
      core.paymentMethods,
    ),
    readiness: new ReadinessCheck(db, temporal, connectors, config),
    streams: new PaymentStreams(db, new EventHub(config.databaseUrl), payments),
    idempotencyKeys: new IdempotencyKeys(db, box, config.idempotency),
    webhookEndpoints: new WebhookEndpointService({
      db,
      box,
      // Checks a URL at registration; the worker's endpoint workflows do the sending.
      egress: new WebhookEgress({
        allowedNetworks: config.webhookAllowedNetworks,
        // Only sends log (a failed POST); the API checks reachability and never sends.
        log: () => undefined,
      }),
      temporal,
    }),
    checkoutSessions,
    paymentLinks: new PaymentLinkService(db, checkoutSessions, config),
    customers: new CustomerService(db, core.paymentMethods),
    tenantAdmin: new TenantAdmin(db, core.identity, connectors, config),
    profileStreams: new ProfileStreams(loadProfiles(config.profiles)),
    ledger: { verify: () => verifyLedger(db) },
  };
}

export interface Connections {
  db: Database;
  temporal: Client;
  /** Closes Temporal's connection, then PostgreSQL's pool. */
  close(): Promise<void>;
}

/**
 * A process's connections: PostgreSQL, migrated first (under an advisory lock, so processes may
 * race), and Temporal, connected lazily so the process starts while Temporal is down.
 */
export async function openConnections(
  config: Config,
  pool: { max: number; connectionTimeoutMillis?: number },
  /** A connection the process has already (the co-located worker's): used, and left open. */
  shared?: ConnectionLike,
): Promise<Connections> {
  if (!config.databaseUrl)
    throw new Error('DATABASE_URL is required (npm run dev starts an embedded PostgreSQL for you)');
  await migrateDatabase(config.databaseUrl);
  const database = connectDatabase(config.databaseUrl, {
    ...pool,
    preparedStatements: config.databasePreparedStatements,
  });
  const connection = shared ?? connectTemporal(config.temporalAddress ?? '127.0.0.1:7233');
  const temporal = new Client({
    connection,
    namespace: config.temporalNamespace,
    interceptors: clientInterceptors(),
  });
  return {
    db: database.db,
    temporal,
    close: async () => {
      if (!shared) await connection.close();
      await database.close();
    },
  };
}
