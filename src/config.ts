import { z } from 'zod';
import {
  DEFAULT_REFUND_PENDING_WINDOW_MS,
  DEFAULT_TIMEOUTS,
  TASK_QUEUE,
  type PaymentTimeouts,
} from './domain/defaults.js';
import { parseEventSinks, type SinkName } from './events/sink.js';

/** The documented development key; `npm run dev` and the tests accept it for tenant `default`. */
export const DEV_API_KEY = 'sk_test_paysaga';
export const DEV_ADMIN_KEY = 'sk_admin_paysaga';
/** The development secret the sandbox gateway signs its webhooks with. */
export const DEV_WEBHOOK_SECRET = 'whsec_dev_paysaga';
/** The development secret of customer tokens (HS256). */
export const DEV_CUSTOMER_TOKEN_SECRET = 'paysaga-dev-customer-token-secret-0123456789';
/** The development key that seals merchants' webhook secrets (32 bytes, base64). */
export const DEV_WEBHOOK_ENCRYPTION_KEY = Buffer.from('paysaga-dev-webhook-secrets-key!').toString('base64');

const env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** The worker's task queue; the API always starts workflows on the default one. */
  TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  /** `key:tenant` pairs, comma separated. */
  API_KEYS: z.string().default(`${DEV_API_KEY}:default`),
  ADMIN_API_KEYS: z.string().default(DEV_ADMIN_KEY),
  GATEWAY_URL: z.string().default('http://127.0.0.1:4010'),
  GATEWAY_WEBHOOK_SECRET: z.string().default(DEV_WEBHOOK_SECRET),
  /** The connector new payments and top-ups go through (src/gateway/registry.ts lists them). */
  DEFAULT_CONNECTOR: z.string().min(1).default('sandbox'),
  PUBLIC_URL: z.string().optional(),
  /** How long POST /v1/payments waits for a settled status before answering 202. */
  SYNC_WAIT_MS: z.coerce.number().int().min(0).default(10_000),
  AUTHORIZATION_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_TIMEOUTS.authorizationWindowMs),
  ACTION_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_TIMEOUTS.actionWindowMs),
  REFUND_PENDING_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_REFUND_PENDING_WINDOW_MS),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(24).default(24),
  /** Where events go besides the outbox: `outbox,kafka,amqp` (src/events/sink.ts). */
  EVENT_SINKS: z.string().default('outbox'),
  /** Comma-separated `host:port` list; `npm run dev` starts a local Kafka when unset. */
  KAFKA_BROKERS: z.string().optional(),
  /** `amqp://user:pass@host:port/vhost`; `npm run dev` starts a local RabbitMQ when unset. */
  AMQP_URL: z.string().optional(),
  /** Seals merchants' webhook endpoint secrets at rest: 32 bytes, base64 (`openssl rand -base64 32`). */
  WEBHOOK_ENCRYPTION_KEY: z.string().default(DEV_WEBHOOK_ENCRYPTION_KEY),
  /** Signs customer tokens (HS256), at least 32 characters. */
  CUSTOMER_TOKEN_SECRET: z.string().min(32).default(DEV_CUSTOMER_TOKEN_SECRET),
  /** The tenant of a broker command that names none (the food-ordering `OrderStockConfirmed`). */
  COMMANDS_TENANT: z.string().min(1).default('default'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  apiKeys: Map<string, string>;
  adminKeys: Set<string>;
  gatewayUrl: string;
  webhookSecret: string;
  defaultConnector: string;
  publicUrl: string;
  syncWaitMs: number;
  timeouts: PaymentTimeouts;
  refundPendingWindowMs: number;
  idempotencyTtlHours: number;
  /** Kept for `ttlHours`; a request holds its key for `leaseSeconds` before a retry may take it over. */
  idempotency: { ttlHours: number; leaseSeconds: number };
  eventSinks: SinkName[];
  kafkaBrokers: string[] | undefined;
  amqpUrl: string | undefined;
  commandsTenant: string;
  webhookEncryptionKey: string;
  customerTokenSecret: string;
  logLevel: string;
}

/** Settings whose defaults are public development values. */
const DEV_DEFAULTS = [
  'API_KEYS',
  'ADMIN_API_KEYS',
  'GATEWAY_WEBHOOK_SECRET',
  'WEBHOOK_ENCRYPTION_KEY',
  'CUSTOMER_TOKEN_SECRET',
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
  const apiKeys = new Map<string, string>();
  for (const pair of e.API_KEYS.split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, tenant] = pair.split(':');
    if (!key || !tenant) throw new Error(`API_KEYS entry "${pair}" is not key:tenant`);
    apiKeys.set(key, tenant);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TASK_QUEUE,
    apiKeys,
    adminKeys: new Set(
      e.ADMIN_API_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    ),
    gatewayUrl: e.GATEWAY_URL,
    webhookSecret: e.GATEWAY_WEBHOOK_SECRET,
    defaultConnector: e.DEFAULT_CONNECTOR,
    publicUrl: e.PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`,
    syncWaitMs: e.SYNC_WAIT_MS,
    timeouts: { authorizationWindowMs: e.AUTHORIZATION_WINDOW_MS, actionWindowMs: e.ACTION_WINDOW_MS },
    refundPendingWindowMs: e.REFUND_PENDING_WINDOW_MS,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
    // Longer than any request can run (the sync wait plus Temporal's deadlines), no longer.
    idempotency: { ttlHours: e.IDEMPOTENCY_TTL_HOURS, leaseSeconds: Math.ceil(e.SYNC_WAIT_MS / 1000) + 10 },
    eventSinks: parseEventSinks(e.EVENT_SINKS),
    kafkaBrokers: e.KAFKA_BROKERS?.split(',')
      .map((broker) => broker.trim())
      .filter(Boolean),
    amqpUrl: e.AMQP_URL,
    commandsTenant: e.COMMANDS_TENANT,
    webhookEncryptionKey: e.WEBHOOK_ENCRYPTION_KEY,
    customerTokenSecret: e.CUSTOMER_TOKEN_SECRET,
    logLevel: e.LOG_LEVEL,
  };
}
