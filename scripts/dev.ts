/**
 * `npm run dev`: the whole stack on one machine with nothing installed by hand. Embedded
 * PostgreSQL (unless DATABASE_URL), the Temporal dev server with the Web UI (unless
 * TEMPORAL_ADDRESS), the sandbox gateway, the worker and the API. A component that crashes is
 * started again (same port, same data) with exponential backoff while the rest keeps running;
 * Ctrl-C stops all of it. With STRIPE_MOCK=1 it also starts Stripe's stripe-mock with the
 * emulator in front of it (tools/stack/stripe-emulator.ts) and a tenant `stripe-demo` on Stripe.
 * With PAYPAL_MOCK=1 it starts the PayPal emulator (tools/stack/paypal-emulator.ts) and a tenant
 * `paypal-demo` that pays cards on the sandbox and PayPal on PayPal (with STRIPE_MOCK=1 too, its
 * EUR cards are routed sandbox first, Stripe second).
 */
import '../src/require-node.mjs';
import { connectorOf, DEV_ADMIN_KEY, DEV_API_KEY, loadConfig, tenantEnvSuffix } from '../src/config.js';
import { takeOverShutdownSignals } from '../tools/stack/embedded-postgres.js';
import { projectPath, startStack, type Stack } from '../tools/stack/stack.js';
import { startPayPalEmulator, type PayPalEmulator } from '../tools/stack/paypal-emulator.js';
import { startStripeEmulator, type StripeEmulator } from '../tools/stack/stripe-emulator.js';
import { startStripeMock, type StripeMock } from '../tools/stack/stripe-mock.js';

/** The tenant on Stripe that STRIPE_MOCK=1 adds: its API key and its (stripe-mock) Stripe credentials. */
const STRIPE_DEMO = {
  tenant: 'stripe-demo',
  apiKey: 'sk_test_stripe_demo',
  stripeKey: 'sk_test_stripeMockDemo',
  webhookSecret: 'whsec_stripe_mock_demo',
};
let stripe: { mock: StripeMock; emulator: StripeEmulator } | undefined;
/** The tenant PAYPAL_MOCK=1 adds, and its PayPal (emulator) credentials. */
const PAYPAL_DEMO = {
  tenant: 'paypal-demo',
  apiKey: 'sk_test_paypal_demo',
  clientId: 'paypal-demo-client',
  clientSecret: 'paypal-demo-client-secret',
  webhookId: 'WH-PAYPAL-DEMO',
  stripeKey: 'sk_test_paypalDemoOnStripeMock',
  stripeWebhookSecret: 'whsec_paypal_demo_on_stripe_mock',
};
let paypal: PayPalEmulator | undefined;

const started = Date.now();
const say = (line: string) => console.log(`[dev] ${line}`);
let stack: Stack | undefined;
let stopping = false;
const starting = new AbortController();
let startup: Promise<unknown> = Promise.resolve();

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping...');
  // A Ctrl-C while starting: startStack stops what it already started, then rejects.
  starting.abort(new Error('stopped while starting'));
  await startup.catch(() => undefined);
  await stack?.stop();
  await stripe?.emulator.close();
  await stripe?.mock.stop();
  await paypal?.close();
  process.exit(code);
}
takeOverShutdownSignals();
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const stripeEnv = await stripeMockHere();
  const pending = startStack({
    env: { ...stripeEnv, ...(await paypalMockHere(stripeEnv)) },
    signal: starting.signal,
    postgresDir: projectPath('.data', 'postgres'),
    persistentPostgres: true,
    postgresPort: Number(process.env.EMBEDDED_PG_PORT ?? 54329),
    databaseUrl: process.env.DATABASE_URL,
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    temporalPort: Number(process.env.TEMPORAL_PORT ?? 7233),
    temporalUiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
    temporalDbFile: projectPath('.data', 'temporal', 'temporal.db'),
    brokerDataDir: projectPath('.data', 'brokers'),
    kafkaPort: Number(process.env.KAFKA_PORT ?? 9092),
    amqpPort: Number(process.env.AMQP_PORT ?? 5672),
    apiPort: Number(process.env.PORT ?? 3000),
    gatewayPort: Number(process.env.SANDBOX_PORT ?? 4010),
    log: (line) => {
      // The Temporal dev server's banner repeats what is printed below.
      if (!line.startsWith('[temporal]')) console.log(line);
    },
    supervise: true,
    onSupervisorLog: say,
  });
  startup = pending;
  stack = await pending;
  stripe?.emulator.sendWebhooksTo(`${stack.apiUrl}/v1/webhooks/stripe`, STRIPE_DEMO.webhookSecret);
  paypal?.sendWebhooksTo(`${stack.apiUrl}/v1/webhooks/paypal`, PAYPAL_DEMO.webhookId);
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
  API           ${stack.apiUrl}    (Authorization: Bearer ${DEV_API_KEY}, tenant "default")
${stack.apiUrls
  .slice(1)
  .map((url, i) => `  API ${i + 2}         ${url}    (another API process, as in production)\n`)
  .join('')}  API docs      ${stack.apiUrl}/docs
  Admin key     ${DEV_ADMIN_KEY}           (GET /v1/ledger/verify)
  Web UI        ${stack.temporalUiUrl ?? '(external Temporal: use its own UI)'}
  Metrics       ${stack.apiUrl}/metrics (API), http://127.0.0.1:${process.env.METRICS_PORT ?? 9464}/metrics (worker, with the Temporal SDK's)
  Gateway       ${stack.gatewayUrl}    (sandbox PSP)
${connectorLines(stack)}
  Temporal      ${stack.temporalAddress}
  PostgreSQL    ${stack.databaseUrl}
${brokerLines(stack)}
  Ctrl-C stops everything.
`);
} catch (error) {
  if (!stopping) console.error('[dev] failed to start:', error);
  await stopAll(1);
}

/**
 * STRIPE_MOCK=1: stripe-mock (built once with Go) and the emulator in front of it, and tenant
 * `stripe-demo` on Stripe, added to API_KEYS and TENANT_CONNECTORS.
 */
async function stripeMockHere(): Promise<Record<string, string>> {
  if (process.env.STRIPE_MOCK !== '1') return {};
  const mock = await startStripeMock({
    port: Number(process.env.STRIPE_MOCK_PORT ?? 12111),
    log: (line) => console.log(`[stripe-mock] ${line}`),
  });
  stripe = { mock, emulator: await startStripeEmulator(mock.url) };
  const suffix = tenantEnvSuffix(STRIPE_DEMO.tenant);
  const list = (value: string | undefined, entry: string) => (value ? `${value},${entry}` : entry);
  return {
    API_KEYS: list(
      process.env.API_KEYS ?? `${DEV_API_KEY}:default`,
      `${STRIPE_DEMO.apiKey}:${STRIPE_DEMO.tenant}`,
    ),
    TENANT_CONNECTORS: list(process.env.TENANT_CONNECTORS, `${STRIPE_DEMO.tenant}:stripe`),
    STRIPE_API_BASE: stripe.emulator.url,
    [`STRIPE_API_KEY__${suffix}`]: STRIPE_DEMO.stripeKey,
    [`STRIPE_WEBHOOK_SECRET__${suffix}`]: STRIPE_DEMO.webhookSecret,
  };
}

/**
 * PAYPAL_MOCK=1: the PayPal emulator and tenant `paypal-demo` (cards on the sandbox, PayPal on
 * PayPal), added to API_KEYS. With Stripe here too, the tenant also has a Stripe account and its
 * EUR cards are routed sandbox first, Stripe second (ROUTING_RULES).
 */
async function paypalMockHere(stripeEnv: Record<string, string>): Promise<Record<string, string>> {
  if (process.env.PAYPAL_MOCK !== '1') return {};
  paypal = await startPayPalEmulator({
    clientId: PAYPAL_DEMO.clientId,
    clientSecret: PAYPAL_DEMO.clientSecret,
    webhookId: PAYPAL_DEMO.webhookId,
  });
  const suffix = tenantEnvSuffix(PAYPAL_DEMO.tenant);
  const keys = stripeEnv.API_KEYS ?? process.env.API_KEYS ?? `${DEV_API_KEY}:default`;
  return {
    API_KEYS: `${keys},${PAYPAL_DEMO.apiKey}:${PAYPAL_DEMO.tenant}`,
    PAYPAL_API_BASE: paypal.url,
    PAYPAL_CERT_HOSTS: paypal.host,
    [`PAYPAL_CLIENT_ID__${suffix}`]: PAYPAL_DEMO.clientId,
    [`PAYPAL_CLIENT_SECRET__${suffix}`]: PAYPAL_DEMO.clientSecret,
    [`PAYPAL_WEBHOOK_ID__${suffix}`]: PAYPAL_DEMO.webhookId,
    ...(stripe && !process.env.ROUTING_RULES
      ? {
          [`STRIPE_API_KEY__${suffix}`]: PAYPAL_DEMO.stripeKey,
          [`STRIPE_WEBHOOK_SECRET__${suffix}`]: PAYPAL_DEMO.stripeWebhookSecret,
          ROUTING_RULES: JSON.stringify({
            [PAYPAL_DEMO.tenant]: [{ match: { currency: 'EUR' }, connectors: ['sandbox', 'stripe'] }],
          }),
        }
      : {}),
  };
}

/** Which connector each tenant's payments go through (TENANT_CONNECTORS, DEFAULT_CONNECTOR). */
function connectorLines(running: Stack): string {
  const config = loadConfig({ ...process.env, ...running.env });
  const tenants = [...new Set([...config.apiKeys.values(), ...config.tenantConnectors.keys()])];
  const lines = [`  Connectors    ${tenants.map((t) => `${t} → ${connectorOf(config, t)}`).join(', ')}`];
  if (config.stripe.accounts.length > 0)
    lines.push(
      `  Stripe        ${config.stripe.apiBase ?? 'https://api.stripe.com'}    (webhooks: ${running.apiUrl}/v1/webhooks/stripe)`,
    );
  if (paypal)
    lines.push(
      `  PayPal        ${paypal.url} (emulator; webhooks: ${running.apiUrl}/v1/webhooks/paypal); tenant "${PAYPAL_DEMO.tenant}": Bearer ${PAYPAL_DEMO.apiKey}, method {"type":"paypal"}`,
    );
  if (stripe)
    lines.push(
      `                stripe-mock ${stripe.mock.url} behind the emulator; tenant "${STRIPE_DEMO.tenant}": Bearer ${STRIPE_DEMO.apiKey}, cards pm_card_visa, pm_card_authenticationRequired, pm_card_chargeDeclined...`,
    );
  return lines.join('\n');
}

/** The event sinks in use, and where the brokers started here listen. */
function brokerLines(running: Stack): string {
  const sinks = running.env.EVENT_SINKS ?? process.env.EVENT_SINKS ?? 'outbox';
  const lines = [`  Events        ${sinks}   (EVENT_SINKS; the outbox is the events table)`];
  if (running.kafkaBrokers) lines.push(`  Kafka         ${running.kafkaBrokers}    (topic paysaga.events)`);
  if (running.amqpUrl) lines.push(`  RabbitMQ      ${running.amqpUrl}    (exchange paysaga.events)`);
  const profiles = running.env.PROFILES ?? process.env.PROFILES;
  if (profiles) lines.push(`  Profiles      ${profiles}   (PROFILES; docs/profiles.md)`);
  return lines.join('\n') + '\n';
}
