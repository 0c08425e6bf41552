/**
 * The integration tests' stack, one per run: embedded PostgreSQL in a temp folder, one Temporal dev server (in
 * memory), and the sandbox gateway, worker and API as real processes talking real HTTP.
 * Test files reach them through `inject(...)`.
 */
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  DEV_COMMAND_SECRET,
  freePort,
  projectPath,
  startStack,
  type Stack,
} from '../../tools/stack/stack.js';
import { DEV_API_KEY } from '../../src/config.js';
import {
  OTHER_COMMAND_SECRET,
  PAYPALCO_PAYPAL,
  ROUTED_RULES,
  ROUTED_STRIPE,
  STRIPECO_STRIPE,
  TENANT_KEYS,
} from '../support/tenants.js';
import { startPayPalEmulator, type PayPalEmulator } from '../../tools/stack/paypal-emulator.js';
import { secretsIn } from '../support/log-scan.js';
import { startStripeEmulator, type StripeEmulator } from '../../tools/stack/stripe-emulator.js';
import { startStripeMock, stripeMockMissing, type StripeMock } from '../../tools/stack/stripe-mock.js';
import { BROKER_LABELS, brokersHere } from '../../tools/stack/brokers-here.js';
import type { RabbitMqControl } from '../../tools/stack/rabbitmq.js';

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    gatewayUrl: string;
    databaseUrl: string;
    temporalAddress: string;
    stackEnv: Record<string, string>;
    /** The brokers the stack publishes events to; absent when the machine cannot run one. */
    kafkaBrokers: string | undefined;
    amqpUrl: string | undefined;
    /** Process ids of the brokers, for tests that make one hang (SIGSTOP) and come back. */
    brokerPids: { kafka?: number | undefined; rabbitmq?: number | undefined };
    /** How a test stops and starts the RabbitMQ broker (`rabbitmqctl stop_app` / `start_app`). */
    rabbitmqControl: RabbitMqControl | undefined;
    /** The worker's Prometheus endpoint. */
    workerMetricsUrl: string;
    /** Temporal limits this stack's server lowers, so a test reaches them in seconds. */
    temporalLimits: typeof TEMPORAL_LIMITS;
    /** stripe-mock, and the emulator in front of it that tenant `stripeco` reaches (absent without Go). */
    stripeMockUrl: string | undefined;
    stripeEmulatorUrl: string | undefined;
    /** The PayPal emulator tenant `paypalco` reaches. */
    paypalEmulatorUrl: string;
  }
}

/**
 * Limits lowered in the stack's Temporal server, for every test: no workflow of Paysaga's may take
 * more signals than this in one run (a tenant's busy webhook endpoint included), and long-running
 * workflows (the event relay, endpoints) are told to continue as new this early.
 */
const TEMPORAL_LIMITS = {
  'history.maximumSignalsPerExecution': 50,
  'limit.historyCount.suggestContinueAsNew': 500,
};

let stack: Stack | undefined;
let tempDir: string | undefined;
let stripeMock: StripeMock | undefined;
let stripeEmulator: StripeEmulator | undefined;
let paypalEmulator: PayPalEmulator | undefined;

export async function setup(project: TestProject): Promise<void> {
  const logFile = projectPath('.tmp', 'test-stack.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, '');
  const sinks = eventSinksHere();
  const stripe = await stripeHere((line) => appendFileSync(logFile, `[stripe-mock] ${line}\n`));
  const metricsPort = await freePort();
  paypalEmulator = await startPayPalEmulator({
    clientId: PAYPALCO_PAYPAL.clientId,
    clientSecret: PAYPALCO_PAYPAL.clientSecret,
    webhookId: PAYPALCO_PAYPAL.webhookId,
  });
  tempDir = mkdtempSync(path.join(tmpdir(), 'paysaga-test-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  stack = await startStack({
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: false,
    temporalDynamicConfig: TEMPORAL_LIMITS,
    // One API and one worker whatever the engine: tests read a worker's own metrics and circuit
    // breakers, and follow a payment through one process of each (the chaos run has two of each).
    replicas: 1,
    env: {
      // Every info line, so the run's whole log can be checked for secrets (teardown) and a
      // payment followed across processes (test/integration/logs.test.ts).
      LOG_LEVEL: 'info',
      EVENT_SINKS: sinks.join(','),
      SYNC_WAIT_MS: '10000',
      // Extra tenants let a test file count rows it alone can have written.
      API_KEYS:
        `${DEV_API_KEY}:default,${TENANT_KEYS.badinput}:badinput,${TENANT_KEYS.other}:other,` +
        `${TENANT_KEYS.ratelimitedA}:ratelimited,${TENANT_KEYS.ratelimitedB}:ratelimited,` +
        `${TENANT_KEYS.reports}:reports,${TENANT_KEYS.reports1m}:reports-1m,` +
        `${TENANT_KEYS.single}:single,${TENANT_KEYS.transit}:transit,${TENANT_KEYS.rides}:rides,` +
        `${TENANT_KEYS.foodies}:foodies,${TENANT_KEYS.paypalco}:paypalco` +
        (stripe
          ? `,${TENANT_KEYS.stripeco}:stripeco,${TENANT_KEYS.routed}:routed,${TENANT_KEYS.outage}:outage`
          : ''),
      // Every other tenant keeps a declined payment open for another attempt (the default).
      SINGLE_ATTEMPT_TENANTS: 'single',
      // The shipped integration profiles, each for a tenant of its own, where both brokers run.
      ...(sinks.includes('kafka') && sinks.includes('amqp')
        ? { PROFILES: 'transit:transit,ride-hailing:rides,food-ordering:foodies' }
        : {}),
      METRICS_PORT: String(metricsPort),
      // Tenant `other` signs commands too, so a test can sign as one tenant for another.
      COMMAND_SECRETS: `default:${DEV_COMMAND_SECRET},other:${OTHER_COMMAND_SECRET}`,
      // The tests' webhook receivers listen on 127.0.0.1; every other internal address, the
      // rest of loopback included, stays refused, so a test can show the refusal in this stack.
      WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32',
      // The tests share a few keys and send far more than a real client: only tenant
      // `ratelimited` has a limit a test can reach.
      RATE_LIMIT_MAX: '1000000000',
      RATE_LIMIT_ANONYMOUS_MAX: '1000000000',
      RATE_LIMIT_PAGES_MAX: '1000000000',
      // Expired Idempotency-Keys go within a second (test/integration/http-edges.test.ts).
      IDEMPOTENCY_SWEEP_INTERVAL_MS: '1000',
      TENANT_RATE_LIMITS: 'ratelimited:100',
      // The identity test rotates its issuer's key right after the first fetch of its key set.
      JWKS_COOLDOWN_SECONDS: '0',
      // A payment link's limit a test reaches in a few visits (test/integration/payment-links.test.ts).
      PAYMENT_LINK_SESSIONS_PER_MINUTE: '3',
      // A STRIPE_API_KEY in the shell is for the live Stripe test (test/live), not this stack.
      STRIPE_API_KEY: '',
      STRIPE_WEBHOOK_SECRET: '',
      // Tenant `paypalco` on the PayPal emulator, whose certificate host is trusted like PayPal's.
      PAYPAL_API_BASE: paypalEmulator.url,
      PAYPAL_CERT_HOSTS: paypalEmulator.host,
      PAYPAL_CLIENT_ID__PAYPALCO: PAYPALCO_PAYPAL.clientId,
      PAYPAL_CLIENT_SECRET__PAYPALCO: PAYPALCO_PAYPAL.clientSecret,
      PAYPAL_WEBHOOK_ID__PAYPALCO: PAYPALCO_PAYPAL.webhookId,
      ...(stripe
        ? {
            TENANT_CONNECTORS: 'stripeco:stripe',
            STRIPE_API_BASE: stripe.emulatorUrl,
            STRIPE_API_KEY__STRIPECO: STRIPECO_STRIPE.apiKey,
            STRIPE_WEBHOOK_SECRET__STRIPECO: STRIPECO_STRIPE.webhookSecret,
            // Tenant `routed` has an account on both: EUR cards fail over from the sandbox to Stripe.
            STRIPE_API_KEY__ROUTED: ROUTED_STRIPE.apiKey,
            STRIPE_WEBHOOK_SECRET__ROUTED: ROUTED_STRIPE.webhookSecret,
            STRIPE_API_KEY__OUTAGE: ROUTED_STRIPE.apiKey,
            STRIPE_WEBHOOK_SECRET__OUTAGE: ROUTED_STRIPE.webhookSecret,
            ROUTING_RULES: JSON.stringify({ routed: ROUTED_RULES, outage: ROUTED_RULES }),
          }
        : {}),
    },
    log: (line) => appendFileSync(logFile, `${line}\n`),
    onChildExit: (name, code) => appendFileSync(logFile, `!! ${name} exited with code ${code}\n`),
  });
  project.provide('apiUrl', stack.apiUrl);
  project.provide('gatewayUrl', stack.gatewayUrl);
  project.provide('databaseUrl', stack.databaseUrl);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('stackEnv', stack.env);
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('amqpUrl', stack.amqpUrl);
  project.provide('rabbitmqControl', stack.rabbitmqControl);
  project.provide('brokerPids', { kafka: stack.pid('kafka'), rabbitmq: stack.pid('rabbitmq') });
  // After a customer finishes 3-D Secure on the emulator's page, its webhook comes here.
  stripeEmulator?.sendWebhooksTo(`${stack.apiUrl}/v1/webhooks/stripe`, STRIPECO_STRIPE.webhookSecret);
  project.provide('workerMetricsUrl', `http://127.0.0.1:${metricsPort}/metrics`);
  project.provide('temporalLimits', TEMPORAL_LIMITS);
  project.provide('stripeMockUrl', stripe?.mockUrl);
  project.provide('stripeEmulatorUrl', stripe?.emulatorUrl);
  paypalEmulator.sendWebhooksTo(`${stack.apiUrl}/v1/webhooks/paypal`, PAYPALCO_PAYPAL.webhookId);
  project.provide('paypalEmulatorUrl', paypalEmulator.url);
}

/**
 * stripe-mock (built once with Go) and the emulator in front of it, for tenant `stripeco`. A
 * machine without Go runs the rest: under CI=true that is a failure, elsewhere the Stripe tests
 * skip and this says what to install.
 */
async function stripeHere(log: (line: string) => void) {
  const missing = stripeMockMissing();
  if (missing) {
    if (process.env.CI === 'true')
      throw new Error(`CI=true and this machine lacks stripe-mock: it needs ${missing}`);
    console.log(`skipping: Stripe connector tests need ${missing}`);
    return undefined;
  }
  stripeMock = await startStripeMock({ port: await freePort(), log });
  stripeEmulator = await startStripeEmulator(stripeMock.url);
  return { mockUrl: stripeMock.url, emulatorUrl: stripeEmulator.url };
}

/**
 * The stack publishes to a real Kafka and a real RabbitMQ, started by the stack's own launchers.
 * A machine without what they need runs the rest: under CI=true that is a failure, elsewhere the
 * broker tests skip and this says what to install.
 */
function eventSinksHere(): string[] {
  const { sinks, missing } = brokersHere();
  for (const { broker, needs } of missing)
    console.log(`skipping: ${BROKER_LABELS[broker]} tests need ${needs}`);
  return sinks;
}

export async function teardown(): Promise<void> {
  await stack?.stop();
  await stripeEmulator?.close();
  await stripeMock?.stop();
  await paypalEmulator?.close();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  // The whole run's log, every process's lines: no key, secret or card token may be in it.
  const leaks = secretsIn(readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8'));
  if (leaks.length > 0)
    throw new Error(
      `secrets in .tmp/test-stack.log: ${leaks
        .slice(0, 10)
        .map((leak) => `line ${leak.line}: ${leak.what}`)
        .join('; ')}`,
    );
}
