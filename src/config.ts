import { z } from 'zod';
import {
  DEFAULT_REFUND_PENDING_WINDOW_MS,
  DEFAULT_TIMEOUTS,
  TASK_QUEUE,
  type PaymentTimeouts,
} from './domain/defaults.js';
import { parseEventSinks, type SinkName } from './domain/sinks.js';
import { parseRoutingRules, type RoutingRule } from './domain/routing.js';
import { parseAllowedNetworks, type Network } from './webhooks/address-policy.js';

/** The documented development key; `npm run dev` and the tests accept it for tenant `default`. */
export const DEV_API_KEY = 'sk_test_paysaga';
export const DEV_ADMIN_KEY = 'sk_admin_paysaga';
/** The development secret the sandbox gateway signs its webhooks with. */
export const DEV_WEBHOOK_SECRET = 'whsec_dev_paysaga';
/** The development secret of customer tokens (HS256). */
export const DEV_CUSTOMER_TOKEN_SECRET = 'paysaga-dev-customer-token-secret-0123456789';
/** The development key that seals merchants' webhook secrets (32 bytes, base64). */
export const DEV_WEBHOOK_ENCRYPTION_KEY = Buffer.from('paysaga-dev-webhook-secrets-key!').toString('base64');
/** The development secret that signs the customer's return links after 3-D Secure. */
export const DEV_RETURN_URL_SECRET = 'paysaga-dev-return-url-secret-0123456789';

/** An empty variable is an unset one (`STRIPE_API_KEY= npm run dev`). */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema);

const env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().optional(),
  /** Statements run again are named prepared statements (src/db/plan-cache.ts); off behind a pooler that cannot carry them. */
  DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** The Temporal Web UI, for the links in payment timelines. */
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  /** The worker's task queue; the API always starts workflows on the default one. */
  TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  /** `key:tenant` pairs, comma separated. */
  API_KEYS: z.string().default(`${DEV_API_KEY}:default`),
  ADMIN_API_KEYS: z.string().default(DEV_ADMIN_KEY),
  GATEWAY_URL: z.string().default('http://127.0.0.1:4010'),
  /** The sandbox gateway as customers' browsers reach it (the checkout page tokenizes cards there). */
  GATEWAY_PUBLIC_URL: z.url().optional(),
  GATEWAY_WEBHOOK_SECRET: z.string().default(DEV_WEBHOOK_SECRET),
  /** The connector new payments and top-ups go through (src/gateway/registry.ts lists them). */
  DEFAULT_CONNECTOR: z.string().min(1).default('sandbox'),
  /** `tenant:connector` pairs, comma separated: tenants not listed use DEFAULT_CONNECTOR. */
  TENANT_CONNECTORS: z.string().default(''),
  /** Stripe credentials of every tenant on `stripe` without its own (`STRIPE_API_KEY__<TENANT>`). */
  STRIPE_API_KEY: unsetIfEmpty(z.string().optional()),
  STRIPE_WEBHOOK_SECRET: unsetIfEmpty(z.string().optional()),
  /** Where Stripe's API is: https://api.stripe.com unless set (stripe-mock, a proxy). */
  STRIPE_API_BASE: unsetIfEmpty(z.url().optional()),
  /** PayPal REST credentials of every tenant on `paypal` without its own (`PAYPAL_CLIENT_ID__<TENANT>`). */
  PAYPAL_CLIENT_ID: unsetIfEmpty(z.string().optional()),
  PAYPAL_CLIENT_SECRET: unsetIfEmpty(z.string().optional()),
  /** The id PayPal gave the webhook pointing at /v1/webhooks/paypal (it is part of what PayPal signs). */
  PAYPAL_WEBHOOK_ID: unsetIfEmpty(z.string().optional()),
  /** Where PayPal's API is: PayPal's sandbox unless set (https://api-m.paypal.com for live money). */
  PAYPAL_API_BASE: unsetIfEmpty(z.url().optional()),
  /** Hosts (`host:port`) besides PayPal's own trusted to serve webhook certificates (the emulator). */
  PAYPAL_CERT_HOSTS: z.string().default(''),
  /** Per tenant, ordered routing rules as JSON (src/gateway/routing.ts). */
  ROUTING_RULES: unsetIfEmpty(z.string().optional()),
  /** The circuit breaker of each connector (src/gateway/circuit-breaker.ts). */
  CIRCUIT_WINDOW_SECONDS: z.coerce.number().positive().default(30),
  CIRCUIT_MINIMUM_CALLS: z.coerce.number().int().min(1).default(5),
  CIRCUIT_FAILURE_RATE: z.coerce.number().gt(0).max(1).default(0.5),
  CIRCUIT_OPEN_SECONDS: z.coerce.number().positive().default(15),
  PUBLIC_URL: z.string().optional(),
  /** `production` makes RETURN_URL_SECRET required and refuses http return URLs by default. */
  NODE_ENV: unsetIfEmpty(z.string().optional()),
  /** Signs the return links (`/pay/return/{id}?sig=`) the customer follows after 3-D Secure. */
  RETURN_URL_SECRET: unsetIfEmpty(z.string().min(32).optional()),
  /** Whether a payment's `returnUrl` may be `http:` on a loopback host (local shops in development). */
  RETURN_URL_ALLOW_HTTP_LOOPBACK: unsetIfEmpty(z.stringbool().optional()),
  /** How long POST /v1/payments waits for a settled status before answering 202. */
  SYNC_WAIT_MS: z.coerce.number().int().min(0).default(10_000),
  AUTHORIZATION_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_TIMEOUTS.authorizationWindowMs),
  ACTION_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_TIMEOUTS.actionWindowMs),
  REFUND_PENDING_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_REFUND_PENDING_WINDOW_MS),
  /**
   * How long after its creation a declined payment accepts new attempts (`requires_payment_method`).
   * Like Stripe's PaymentIntent it stays open for the customer, but bounded so its workflow ends.
   */
  PAYMENT_ATTEMPT_WINDOW_SECONDS: z.coerce.number().int().positive().default(86_400),
  /** Tenants whose payments fail for good at the first decline (one attempt per order). */
  SINGLE_ATTEMPT_TENANTS: z.string().default(''),
  /** Checkout sessions one payment link may open per minute (each visit opens one); beyond: 429. */
  PAYMENT_LINK_SESSIONS_PER_MINUTE: z.coerce.number().int().positive().default(60),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(24).default(24),
  /** How often each API process deletes expired Idempotency-Keys (0: never). */
  IDEMPOTENCY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /** Where events go besides the outbox: `outbox,kafka,amqp` (src/events/sink.ts). */
  EVENT_SINKS: z.string().default('outbox'),
  /** The event relay reads the outbox at most once per this many ms (more events per batch). */
  EVENT_RELAY_COALESCE_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  /** A sink whose oldest unrelayed event is older than this is reported lagging (/readyz: degraded). */
  EVENT_RELAY_LAG_ALERT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Comma-separated `host:port` list; `npm run dev` starts a local Kafka when unset. */
  KAFKA_BROKERS: z.string().optional(),
  /** `amqp://user:pass@host:port/vhost`; `npm run dev` starts a local RabbitMQ when unset. */
  AMQP_URL: z.string().optional(),
  /** Seals merchants' webhook endpoint secrets at rest: 32 bytes, base64 (`openssl rand -base64 32`). */
  WEBHOOK_ENCRYPTION_KEY: z.string().default(DEV_WEBHOOK_ENCRYPTION_KEY),
  /** CIDR networks webhook endpoints may be in besides the public internet (none by default). */
  WEBHOOK_ALLOWED_NETWORKS: z.string().default(''),
  /** Signs customer tokens (HS256), at least 32 characters. */
  CUSTOMER_TOKEN_SECRET: z.string().min(32).default(DEV_CUSTOMER_TOKEN_SECRET),
  /** The operator's own tenant: the audit trail's events go to its sinks; its identity provider's admins manage every tenant. */
  PLATFORM_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)
    .default('platform'),
  /** The least time between two fetches of a tenant identity provider's keys for an unknown `kid`. */
  JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  /** The tenant of a signed broker command that names none. */
  COMMANDS_TENANT: z.string().min(1).default('default'),
  /** `tenant:secret[|secret]` pairs: the secrets that sign a tenant's commands (two during a rotation). */
  COMMAND_SECRETS: z.string().default(''),
  /** `source:tenant` pairs: a Kafka topic / RabbitMQ queue whose every message is that tenant's. */
  TENANT_COMMAND_SOURCES: z.string().default(''),
  /**
   * Integration profiles (docs/profiles.md): `name` (a shipped one, profiles/name.yaml) or a path
   * to a profile file, each optionally `:tenant` (default COMMANDS_TENANT), comma-separated.
   */
  PROFILES: z.string().default(''),
  /** How far a command's signed timestamp may be from the time it is read. */
  COMMAND_SIGNATURE_TOLERANCE_SECONDS: z.coerce.number().int().positive().default(86_400),
  /** Failed attempts of one command (dependencies up) before it is dead-lettered. */
  COMMAND_MAX_ATTEMPTS: z.coerce.number().int().positive().default(5),
  /** Where a consumer group that neither Kafka nor PostgreSQL has offsets for starts reading. */
  KAFKA_COMMANDS_START: z.enum(['earliest', 'latest']).default('earliest'),
  /** TLS to Kafka (`true`), with KAFKA_SSL_CA (a PEM file) when the brokers' CA is not a public one. */
  KAFKA_SSL: z.stringbool().default(false),
  KAFKA_SSL_CA: unsetIfEmpty(z.string().optional()),
  KAFKA_SASL_MECHANISM: unsetIfEmpty(z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']).optional()),
  KAFKA_SASL_USERNAME: unsetIfEmpty(z.string().optional()),
  KAFKA_SASL_PASSWORD: unsetIfEmpty(z.string().optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Requests per API key per window (an unauthenticated caller counts per address). */
  RATE_LIMIT_MAX: z.coerce.number().int().positive().default(6000),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** Requests per client address per window without a valid API key or customer token. */
  RATE_LIMIT_ANONYMOUS_MAX: z.coerce.number().int().positive().default(100),
  /** Requests per client address per window to the customer's pages (checkout, return, links). */
  RATE_LIMIT_PAGES_MAX: z.coerce.number().int().positive().default(300),
  /** `tenant:max` pairs: a tenant's keys get this many requests per window instead. */
  TENANT_RATE_LIMITS: z.string().default(''),
  /** 503 with Retry-After when the event loop lags more than this (0: off). */
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).default(1000),
  /** 503 with Retry-After when the heap or the RSS grows past this many bytes (0: off). */
  PRESSURE_MAX_HEAP_BYTES: z.coerce.number().int().min(0).default(0),
  PRESSURE_MAX_RSS_BYTES: z.coerce.number().int().min(0).default(0),
  /** How long each query of a report may run before PostgreSQL cancels it (503 report_timeout). */
  REPORT_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Open live streams (SSE and WebSocket) per tenant and per customer token, in one API process. */
  STREAM_MAX_PER_TENANT: z.coerce.number().int().positive().default(500),
  STREAM_MAX_PER_CUSTOMER_TOKEN: z.coerce.number().int().positive().default(5),
  /** A stream whose client has left this many bytes unread is closed. */
  STREAM_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** The worker's Prometheus endpoint (`/metrics`); 0: not served. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databasePreparedStatements: boolean;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  temporalUiUrl: string;
  taskQueue: string;
  apiKeys: Map<string, string>;
  adminKeys: Set<string>;
  /** The tenants the environment names (API_KEYS, TENANT_CONNECTORS, …): the bootstrap beside the stored ones. */
  envTenants: Set<string>;
  platformTenant: string;
  /** Tenants' identity providers: how often their key sets may be fetched for an unknown `kid`. */
  jwksCooldownMs: number;
  gatewayUrl: string;
  /** The sandbox gateway's URL in customers' browsers (defaults to `gatewayUrl`). */
  gatewayPublicUrl: string;
  webhookSecret: string;
  defaultConnector: string;
  /** Tenants whose payments go through another connector than `defaultConnector`. */
  tenantConnectors: Map<string, string>;
  stripe: StripeConfig;
  paypal: PayPalConfig;
  /** Per tenant, ordered routing rules; tenants without any use their one connector. */
  routing: Map<string, RoutingRule[]>;
  /** When a connector's circuit opens (src/gateway/circuit-breaker.ts). */
  circuit: { windowMs: number; minimumCalls: number; failureRate: number; openMs: number };
  publicUrl: string;
  /** The HMAC key of the customer's return links after 3-D Secure. */
  returnUrlSecret: string;
  /** A merchant's `returnUrl` may be `http:` on a loopback host. */
  returnUrlAllowHttpLoopback: boolean;
  syncWaitMs: number;
  timeouts: PaymentTimeouts;
  refundPendingWindowMs: number;
  /** How long a declined payment accepts new attempts, for tenants not in `singleAttemptTenants`. */
  attemptWindowMs: number;
  singleAttemptTenants: Set<string>;
  /** Sessions a payment link opens per minute at most (its visitors are anonymous). */
  paymentLinkSessionsPerMinute: number;
  idempotencyTtlHours: number;
  /** Kept for `ttlHours`; a request holds its key for `leaseSeconds` before a retry may take it over. */
  idempotency: { ttlHours: number; leaseSeconds: number; sweepIntervalMs: number };
  eventSinks: SinkName[];
  eventRelayCoalesceMs: number;
  eventRelayLagAlertSeconds: number;
  kafkaBrokers: string[] | undefined;
  amqpUrl: string | undefined;
  commandsTenant: string;
  /** The integration profiles to load, each bound to one tenant (src/profiles/). */
  profiles: { ref: string; tenantId: string }[];
  commands: CommandsConfig;
  kafkaSecurity: KafkaSecurity;
  webhookEncryptionKey: string;
  /** Internal networks merchants' webhook endpoints may be in (src/webhooks/address-policy.ts). */
  webhookAllowedNetworks: Network[];
  customerTokenSecret: string;
  logLevel: string;
  rateLimit: {
    max: number;
    anonymousMax: number;
    pagesMax: number;
    windowMs: number;
    perTenant: Map<string, number>;
  };
  pressure: { maxEventLoopDelayMs: number; maxHeapBytes: number; maxRssBytes: number };
  streams: { perTenant: number; perCustomerToken: number; maxBufferedBytes: number };
  reportStatementTimeoutMs: number;
  metricsPort: number;
}

/** How the consumer decides whose a broker command is, and how long it keeps trying one. */
export interface CommandsConfig {
  /** Each tenant's command secrets: a signed command is verified against its tenant's. */
  secrets: Map<string, string[]>;
  /** Queue / topic name → the one tenant its messages belong to (the broker's credentials vouch). */
  tenantSources: Map<string, string>;
  signatureToleranceSec: number;
  maxAttempts: number;
  kafkaStart: 'earliest' | 'latest';
}

/** How Kafka clients connect: TLS (with an optional CA file) and SASL credentials. */
export interface KafkaSecurity {
  tls?: { caFile?: string | undefined } | undefined;
  sasl?:
    | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
    | undefined;
}

/** One set of Stripe credentials: a tenant's own, or the shared one (`tenants` undefined). */
export interface StripeAccountConfig {
  tenants?: string[] | undefined;
  apiKey: string;
  webhookSecret: string;
}

/** One set of PayPal credentials: a tenant's own, or the shared one (`tenants` undefined). */
export interface PayPalAccountConfig {
  tenants?: string[] | undefined;
  clientId: string;
  clientSecret: string;
  webhookId: string;
}

export interface PayPalConfig {
  apiBase: string | undefined;
  certHosts: string[];
  accounts: PayPalAccountConfig[];
}

export interface StripeConfig {
  apiBase: string | undefined;
  accounts: StripeAccountConfig[];
}

/** The connector a tenant's new payments and top-ups go through. */
export function connectorOf(
  config: { tenantConnectors: ReadonlyMap<string, string>; defaultConnector: string },
  tenantId: string,
): string {
  return config.tenantConnectors.get(tenantId) ?? config.defaultConnector;
}

/** `acme-events` -> `ACME_EVENTS`: the suffix of a tenant's own settings (`STRIPE_API_KEY__ACME_EVENTS`). */
export function tenantEnvSuffix(tenantId: string): string {
  return tenantId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Stripe accounts: the shared credentials (if set) and each known tenant's own. A tenant on
 * `stripe` with neither is a configuration error, reported at start, naming the settings (never
 * their values).
 */
function stripeConfig(
  source: NodeJS.ProcessEnv,
  e: z.infer<typeof env>,
  tenants: Set<string>,
  tenantConnectors: Map<string, string>,
): StripeConfig {
  const accounts: StripeAccountConfig[] = [];
  if (e.STRIPE_API_KEY || e.STRIPE_WEBHOOK_SECRET) {
    if (!e.STRIPE_API_KEY || !e.STRIPE_WEBHOOK_SECRET)
      throw new Error('STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET are set together or not at all');
    accounts.push({ apiKey: e.STRIPE_API_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET });
  }
  for (const tenant of tenants) {
    const suffix = tenantEnvSuffix(tenant);
    const apiKey = source[`STRIPE_API_KEY__${suffix}`];
    const webhookSecret = source[`STRIPE_WEBHOOK_SECRET__${suffix}`];
    if (!apiKey && !webhookSecret) continue;
    if (!apiKey || !webhookSecret)
      throw new Error(
        `STRIPE_API_KEY__${suffix} and STRIPE_WEBHOOK_SECRET__${suffix} are set together or not at all`,
      );
    accounts.push({ tenants: [tenant], apiKey, webhookSecret });
  }
  for (const tenant of tenants) {
    const onStripe = (tenantConnectors.get(tenant) ?? e.DEFAULT_CONNECTOR) === 'stripe';
    const hasAccount = accounts.some((account) => !account.tenants || account.tenants.includes(tenant));
    if (onStripe && !hasAccount)
      throw new Error(
        `tenant ${tenant} uses the stripe connector, but neither STRIPE_API_KEY__${tenantEnvSuffix(tenant)} ` +
          'nor STRIPE_API_KEY is set',
      );
  }
  return { apiBase: e.STRIPE_API_BASE, accounts };
}

/**
 * PayPal accounts, as Stripe's: the shared credentials (all three settings, or none) and each
 * known tenant's own (`PAYPAL_CLIENT_ID__<TENANT>`, `PAYPAL_CLIENT_SECRET__…`, `PAYPAL_WEBHOOK_ID__…`).
 */
function paypalConfig(source: NodeJS.ProcessEnv, e: z.infer<typeof env>, tenants: Set<string>): PayPalConfig {
  const settings = ['PAYPAL_CLIENT_ID', 'PAYPAL_CLIENT_SECRET', 'PAYPAL_WEBHOOK_ID'] as const;
  const account = (suffix: string) => {
    const [clientId, clientSecret, webhookId] = settings.map(
      (name) => source[`${name}${suffix}`] || undefined,
    );
    if (!clientId && !clientSecret && !webhookId) return undefined;
    if (!clientId || !clientSecret || !webhookId)
      throw new Error(
        `${settings.map((name) => `${name}${suffix}`).join(', ')} are set together or not at all`,
      );
    return { clientId, clientSecret, webhookId };
  };
  const accounts: PayPalAccountConfig[] = [];
  const shared = account('');
  if (shared) accounts.push(shared);
  for (const tenant of tenants) {
    const own = account(`__${tenantEnvSuffix(tenant)}`);
    if (own) accounts.push({ tenants: [tenant], ...own });
  }
  const certHosts = e.PAYPAL_CERT_HOSTS.split(',')
    .map((host) => host.trim())
    .filter(Boolean);
  return { apiBase: e.PAYPAL_API_BASE, certHosts, accounts };
}

function pairs(value: string, setting: string, what: string): [string, string][] {
  return value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((pair) => {
      const [left, right, ...rest] = pair.split(':');
      if (!left || !right || rest.length > 0) throw new Error(`${setting} entry "${pair}" is not ${what}`);
      return [left, right];
    });
}

/** `transit,food-ordering:acme` → each profile with the tenant it acts for (a known one). */
function profileRefs(value: string, defaultTenant: string, tenants: Set<string>) {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const [ref, tenantId] = at > 0 ? [entry.slice(0, at), entry.slice(at + 1)] : [entry, defaultTenant];
      if (!ref || !tenantId) throw new Error(`PROFILES entry "${entry}" is not profile[:tenant]`);
      if (!tenants.has(tenantId))
        throw new Error(`PROFILES binds ${ref} to tenant ${tenantId}, which is not a tenant of API_KEYS`);
      return { ref, tenantId };
    });
}

/** The shared commands queue / topic and its dead letters: never bound to one tenant. */
const RESERVED_COMMAND_SOURCES = ['paysaga.commands', 'paysaga.commands.dlq'];

function commandsConfig(e: z.infer<typeof env>, tenants: Set<string>): CommandsConfig {
  const secrets = new Map(
    pairs(e.COMMAND_SECRETS, 'COMMAND_SECRETS', 'tenant:secret[|secret]').map(([tenant, list]) => {
      const values = list.split('|');
      if (values.some((secret) => secret.length < 16))
        throw new Error(`COMMAND_SECRETS: every secret of tenant ${tenant} needs at least 16 characters`);
      return [tenant, values];
    }),
  );
  const tenantSources = new Map(pairs(e.TENANT_COMMAND_SOURCES, 'TENANT_COMMAND_SOURCES', 'source:tenant'));
  for (const source of tenantSources.keys())
    if (RESERVED_COMMAND_SOURCES.includes(source))
      throw new Error(
        `TENANT_COMMAND_SOURCES: ${source} is shared by every tenant and cannot be bound to one`,
      );
  for (const [setting, named] of [
    ['COMMAND_SECRETS', [...secrets.keys()]],
    ['TENANT_COMMAND_SOURCES', [...tenantSources.values()]],
  ] as const)
    for (const tenant of named)
      if (!tenants.has(tenant))
        throw new Error(`${setting} names tenant ${tenant}, which is not a tenant of API_KEYS`);
  return {
    secrets,
    tenantSources,
    signatureToleranceSec: e.COMMAND_SIGNATURE_TOLERANCE_SECONDS,
    maxAttempts: e.COMMAND_MAX_ATTEMPTS,
    kafkaStart: e.KAFKA_COMMANDS_START,
  };
}

function kafkaSecurity(e: z.infer<typeof env>): KafkaSecurity {
  const credentials = [e.KAFKA_SASL_MECHANISM, e.KAFKA_SASL_USERNAME, e.KAFKA_SASL_PASSWORD];
  if (credentials.some(Boolean) && !credentials.every(Boolean))
    throw new Error(
      'KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set together or not at all',
    );
  if (e.KAFKA_SSL_CA && !e.KAFKA_SSL) throw new Error('KAFKA_SSL_CA is set but KAFKA_SSL is not true');
  return {
    tls: e.KAFKA_SSL ? { caFile: e.KAFKA_SSL_CA } : undefined,
    sasl:
      e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
        ? {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME,
            password: e.KAFKA_SASL_PASSWORD,
          }
        : undefined,
  };
}

/** Settings whose defaults are public development values. */
const DEV_DEFAULTS = [
  'API_KEYS',
  'ADMIN_API_KEYS',
  'GATEWAY_WEBHOOK_SECRET',
  'WEBHOOK_ENCRYPTION_KEY',
  'CUSTOMER_TOKEN_SECRET',
  'RETURN_URL_SECRET',
] as const;

function isLoopback(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host);
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const e = env.parse(source);
  // The development keys and webhook secret are in the README: fine on loopback, never silently
  // on an address other machines can reach.
  const fallbacks = DEV_DEFAULTS.filter((name) => source[name] === undefined);
  if (!isLoopback(e.HOST) && fallbacks.length > 0) {
    throw new Error(
      `HOST=${e.HOST} is reachable from other machines, but ${fallbacks.join(', ')} ` +
        'would fall back to the public development values: set them explicitly',
    );
  }
  const production = e.NODE_ENV === 'production';
  if (production && e.RETURN_URL_SECRET === undefined)
    throw new Error('NODE_ENV=production needs RETURN_URL_SECRET (at least 32 characters)');
  const apiKeys = new Map(pairs(e.API_KEYS, 'API_KEYS', 'key:tenant'));
  const tenantConnectors = new Map(pairs(e.TENANT_CONNECTORS, 'TENANT_CONNECTORS', 'tenant:connector'));
  const routing = parseRoutingRules(e.ROUTING_RULES);
  const tenants = new Set([
    ...apiKeys.values(),
    ...tenantConnectors.keys(),
    ...routing.keys(),
    e.COMMANDS_TENANT,
  ]);
  return {
    envTenants: new Set([...tenants, e.PLATFORM_TENANT]),
    platformTenant: e.PLATFORM_TENANT,
    jwksCooldownMs: e.JWKS_COOLDOWN_SECONDS * 1000,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'on',
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalUiUrl: e.TEMPORAL_UI_URL,
    taskQueue: e.TASK_QUEUE,
    apiKeys,
    adminKeys: new Set(
      e.ADMIN_API_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    ),
    gatewayUrl: e.GATEWAY_URL,
    gatewayPublicUrl: (e.GATEWAY_PUBLIC_URL ?? e.GATEWAY_URL).replace(/\/+$/, ''),
    webhookSecret: e.GATEWAY_WEBHOOK_SECRET,
    defaultConnector: e.DEFAULT_CONNECTOR,
    tenantConnectors,
    stripe: stripeConfig(source, e, tenants, tenantConnectors),
    paypal: paypalConfig(source, e, tenants),
    routing,
    circuit: {
      windowMs: e.CIRCUIT_WINDOW_SECONDS * 1000,
      minimumCalls: e.CIRCUIT_MINIMUM_CALLS,
      failureRate: e.CIRCUIT_FAILURE_RATE,
      openMs: e.CIRCUIT_OPEN_SECONDS * 1000,
    },
    publicUrl: e.PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`,
    returnUrlSecret: e.RETURN_URL_SECRET ?? DEV_RETURN_URL_SECRET,
    returnUrlAllowHttpLoopback: e.RETURN_URL_ALLOW_HTTP_LOOPBACK ?? !production,
    syncWaitMs: e.SYNC_WAIT_MS,
    timeouts: { authorizationWindowMs: e.AUTHORIZATION_WINDOW_MS, actionWindowMs: e.ACTION_WINDOW_MS },
    refundPendingWindowMs: e.REFUND_PENDING_WINDOW_MS,
    attemptWindowMs: e.PAYMENT_ATTEMPT_WINDOW_SECONDS * 1000,
    singleAttemptTenants: new Set(
      e.SINGLE_ATTEMPT_TENANTS.split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
    paymentLinkSessionsPerMinute: e.PAYMENT_LINK_SESSIONS_PER_MINUTE,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
    // Longer than any request can run (the sync wait plus Temporal's deadlines), no longer.
    idempotency: {
      ttlHours: e.IDEMPOTENCY_TTL_HOURS,
      leaseSeconds: Math.ceil(e.SYNC_WAIT_MS / 1000) + 10,
      sweepIntervalMs: e.IDEMPOTENCY_SWEEP_INTERVAL_MS,
    },
    eventSinks: parseEventSinks(e.EVENT_SINKS),
    eventRelayCoalesceMs: e.EVENT_RELAY_COALESCE_MS,
    eventRelayLagAlertSeconds: e.EVENT_RELAY_LAG_ALERT_SECONDS,
    kafkaBrokers: e.KAFKA_BROKERS?.split(',')
      .map((broker) => broker.trim())
      .filter(Boolean),
    amqpUrl: e.AMQP_URL,
    commandsTenant: e.COMMANDS_TENANT,
    profiles: profileRefs(e.PROFILES, e.COMMANDS_TENANT, tenants),
    commands: commandsConfig(e, tenants),
    kafkaSecurity: kafkaSecurity(e),
    webhookEncryptionKey: e.WEBHOOK_ENCRYPTION_KEY,
    webhookAllowedNetworks: parseAllowedNetworks(e.WEBHOOK_ALLOWED_NETWORKS),
    customerTokenSecret: e.CUSTOMER_TOKEN_SECRET,
    logLevel: e.LOG_LEVEL,
    rateLimit: {
      max: e.RATE_LIMIT_MAX,
      anonymousMax: e.RATE_LIMIT_ANONYMOUS_MAX,
      pagesMax: e.RATE_LIMIT_PAGES_MAX,
      windowMs: e.RATE_LIMIT_WINDOW_MS,
      perTenant: new Map(
        pairs(e.TENANT_RATE_LIMITS, 'TENANT_RATE_LIMITS', 'tenant:max').map(([tenant, max]) => {
          if (!/^[1-9]\d*$/.test(max))
            throw new Error(`TENANT_RATE_LIMITS entry "${tenant}:${max}" is not tenant:max`);
          return [tenant, Number(max)];
        }),
      ),
    },
    pressure: {
      maxEventLoopDelayMs: e.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapBytes: e.PRESSURE_MAX_HEAP_BYTES,
      maxRssBytes: e.PRESSURE_MAX_RSS_BYTES,
    },
    streams: {
      perTenant: e.STREAM_MAX_PER_TENANT,
      perCustomerToken: e.STREAM_MAX_PER_CUSTOMER_TOKEN,
      maxBufferedBytes: e.STREAM_MAX_BUFFERED_BYTES,
    },
    reportStatementTimeoutMs: e.REPORT_STATEMENT_TIMEOUT_MS,
    metricsPort: e.METRICS_PORT,
  };
}
