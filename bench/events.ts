/**
 * `npm run bench:events`: the latency of events and commands through real brokers. Starts the
 * stack with `EVENT_SINKS=outbox,kafka,amqp` (a local Kafka and RabbitMQ, as `npm run dev` would),
 * then, open loop at BENCH_EVENTS_RATE per second for BENCH_EVENTS_SECONDS each:
 * 1. publish latency: wallet payments over HTTP; for every event, from its status change (the
 *    event's `time`) to its arrival at a subscriber of Kafka and of RabbitMQ;
 * 2. command to settled: `payment.create` on Kafka → its `payment.succeeded` back on Kafka, and
 *    `OrderStockConfirmed` (card) on RabbitMQ → `OrderPaymentSucceeded` back on RabbitMQ.
 * Checks that every event arrived and the ledger is clean, prints percentiles, writes the JSON.
 */
import { Producer, stringSerializers } from '@platformatic/kafka';
import amqp from 'amqplib';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { paymentIdFor } from '../src/app/payments.js';
import { KAFKA_COMMANDS_TOPIC } from '../src/commands/kafka-source.js';
import { COMMAND_SIGNATURE_HEADER } from '../src/commands/trust.js';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';
import { signWebhook } from '../src/gateway/webhook-signature.js';
import {
  DEV_COMMAND_SECRET,
  DEV_TENANT_COMMAND_SOURCE,
  startStack,
  type Stack,
} from '../tools/stack/stack.js';
import {
  collectFromKafka,
  collectFromRabbitMq,
  type Collector,
  type Received,
} from '../test/support/brokers.js';
import { call, type ApiTarget } from './api.js';
import { percentile } from './load.js';

const RATE = Number(process.env.BENCH_EVENTS_RATE ?? 10);
const SECONDS = Number(process.env.BENCH_EVENTS_SECONDS ?? 20);
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const started = Date.now();
const say = (line: string) =>
  console.log(`[bench:events +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);

let stack: Stack | undefined;
let tempDir: string | undefined;
const collectors: Collector[] = [];
async function cleanup() {
  await Promise.all(collectors.map((c) => c.close().catch(() => undefined)));
  await stack?.stop().catch(() => undefined);
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
const overall = setTimeout(() => {
  say('still running after 10 minutes: giving up');
  void cleanup().then(() => process.exit(2));
}, 10 * 60_000);

/** Calls `fn` RATE times a second for SECONDS, on schedule (open loop); resolves when all ended. */
async function openLoop(fn: (i: number) => Promise<void>): Promise<void> {
  const pending: Promise<void>[] = [];
  const total = RATE * SECONDS;
  const t0 = Date.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    pending.push(fn(i));
  }
  await Promise.all(pending);
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1)!,
  };
}

/** The first arrival of each event id, for these subjects. */
function firstArrivals(collector: Collector, subjects: Set<string>): Map<string, Received> {
  const first = new Map<string, Received>();
  for (const r of collector.received) {
    if (subjects.has(r.event.subject) && !first.has(r.event.id)) first.set(r.event.id, r);
  }
  return first;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

try {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'paysaga-bench-events-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logPath = path.join(RESULTS_DIR, 'events-stack.log');
  const logFile = createWriteStream(logPath);
  say(`starting the stack with Kafka and RabbitMQ; log in ${logPath}`);
  stack = await startStack({
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: false,
    temporalDbFile: path.join(tempDir, 'temporal', 'temporal.db'),
    // One key sends all of the load: the rate limiter is not what this measures.
    env: {
      RATE_LIMIT_MAX: '1000000000',
      RATE_LIMIT_ANONYMOUS_MAX: '1000000000',
      LOG_LEVEL: 'warn',
      EVENT_SINKS: 'outbox,kafka,amqp',
    },
    log: (line) => logFile.write(`${line}\n`),
  });
  const target: ApiTarget = { apiUrl: stack.apiUrl, apiKey: DEV_API_KEY, adminKey: DEV_ADMIN_KEY };
  const [kafka, rabbit] = await Promise.all([
    collectFromKafka(stack.kafkaBrokers!),
    collectFromRabbitMq(stack.amqpUrl!),
  ]);
  collectors.push(kafka, rabbit);

  const run = Date.now().toString(36);
  const customers = Array.from({ length: 10 }, (_, i) => `bench-${run}-${i}`);
  for (const customer of customers) {
    const topUp = await call(target, 'POST', `/v1/wallets/${customer}/top-ups`, {
      amount: 10_000_000,
      currency: 'USD',
      token: 'tok_test_4242',
    });
    if (topUp.status !== 200) throw new Error(`top-up failed: ${topUp.status}`);
  }

  // 1. Publish latency of the events of HTTP payments.
  say(`publish latency: ${RATE}/s wallet payments over HTTP for ${SECONDS} s`);
  const subjects = new Set<string>();
  await openLoop(async (i) => {
    const paid = await call(target, 'POST', '/v1/payments', {
      orderId: `ord-${run}-http-${i}`,
      customerId: customers[i % customers.length],
      amount: 100,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    if (paid.body?.status !== 'succeeded')
      throw new Error(`payment ${i}: ${paid.status} ${paid.body?.status}`);
    subjects.add(`payments/${paid.body.id}`);
  });
  const expected = subjects.size * 2; // payment.created, payment.succeeded
  await waitFor(
    () => [kafka, rabbit].every((c) => firstArrivals(c, subjects).size >= expected),
    `${expected} events on both brokers`,
  );
  const publish = Object.fromEntries(
    (
      [
        ['kafka', kafka],
        ['rabbitmq', rabbit],
      ] as const
    ).map(([name, c]) => [
      name,
      summary([...firstArrivals(c, subjects).values()].map((r) => r.receivedAt - Date.parse(r.event.time))),
    ]),
  );

  // 2. Command to settled.
  say(`command to settled: ${RATE}/s payment.create on Kafka for ${SECONDS} s`);
  const producer = new Producer({
    clientId: 'paysaga-bench',
    bootstrapBrokers: [stack.kafkaBrokers!],
    serializers: stringSerializers,
  });
  const kafkaSent = new Map<string, number>();
  await openLoop(async (i) => {
    const orderId = `ord-${run}-kafka-${i}`;
    kafkaSent.set(`payments/${paymentIdFor('default', orderId)}`, Date.now());
    const value = JSON.stringify({
      type: 'payment.create',
      tenantId: 'default',
      orderId,
      customerId: customers[i % customers.length],
      amount: 100,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    // Signed by tenant `default`, as every command on the shared topic must be (docs/events.md).
    const signature = signWebhook(DEV_COMMAND_SECRET, value, Math.floor(Date.now() / 1000));
    await producer.send({
      messages: [
        {
          topic: KAFKA_COMMANDS_TOPIC,
          key: orderId,
          value,
          headers: { [COMMAND_SIGNATURE_HEADER]: signature },
        },
      ],
    });
  });
  await producer.close();
  const settledOn = (c: Collector, sent: Map<string, number>, type: string) => {
    const at = new Map<string, number>();
    for (const r of c.received)
      if (r.event.type === type && sent.has(r.event.subject) && !at.has(r.event.subject))
        at.set(r.event.subject, r.receivedAt);
    return at;
  };
  await waitFor(
    () => settledOn(kafka, kafkaSent, 'payment.succeeded').size === kafkaSent.size,
    'every Kafka command settled',
  );

  say(`command to settled: ${RATE}/s OrderStockConfirmed (card) on RabbitMQ for ${SECONDS} s`);
  const connection = await amqp.connect(stack.amqpUrl!);
  const channel = await connection.createConfirmChannel();
  // The queue bound to tenant `default`: the food-ordering service does not sign its events.
  await channel.assertQueue(DEV_TENANT_COMMAND_SOURCE, { durable: true });
  const amqpSent = new Map<string, number>();
  await openLoop(async (i) => {
    const orderId = `ord-${run}-amqp-${i}`;
    amqpSent.set(`payments/${paymentIdFor('default', orderId)}`, Date.now());
    channel.sendToQueue(
      DEV_TENANT_COMMAND_SOURCE,
      Buffer.from(
        JSON.stringify({
          orderId,
          customerId: `buyer-${i}`,
          amount: 2350,
          currency: 'EUR',
          token: 'tok_test_4242',
        }),
      ),
      { persistent: true, type: 'OrderStockConfirmed' },
    );
    await channel.waitForConfirms();
  });
  await waitFor(
    () => settledOn(rabbit, amqpSent, 'OrderPaymentSucceeded').size === amqpSent.size,
    'every OrderStockConfirmed answered',
  );
  await connection.close();
  const latencies = (at: Map<string, number>, sent: Map<string, number>) =>
    summary([...at].map(([subject, time]) => time - sent.get(subject)!));
  const commands = {
    kafkaPaymentCreateToSucceeded: latencies(settledOn(kafka, kafkaSent, 'payment.succeeded'), kafkaSent),
    rabbitOrderStockConfirmedToOrderPaymentSucceeded: latencies(
      settledOn(rabbit, amqpSent, 'OrderPaymentSucceeded'),
      amqpSent,
    ),
  };

  const verify = await call(target, 'GET', '/v1/ledger/verify', undefined, { admin: true });
  if (!verify.body?.ok) throw new Error(`ledger not clean: ${JSON.stringify(verify.body)}`);

  const report = {
    startedAt: new Date(started).toISOString(),
    rate: RATE,
    seconds: SECONDS,
    machine: { cpus: os.cpus().length, node: process.version },
    publishLatencyMs: publish,
    commandToSettledMs: commands,
    ledgerClean: true,
  };
  const file = path.join(RESULTS_DIR, `events-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const line = (name: string, s: ReturnType<typeof summary>) =>
    `  ${name.padEnd(52)} n=${String(s.n).padEnd(5)} p50 ${s.p50} ms  p90 ${s.p90} ms  p99 ${s.p99} ms  max ${s.max} ms`;
  console.log(`\nevents and commands at ${RATE}/s for ${SECONDS} s (${os.cpus().length} cores)`);
  console.log(line('publish: status change -> on Kafka', publish.kafka!));
  console.log(line('publish: status change -> on RabbitMQ', publish.rabbitmq!));
  console.log(
    line('command: payment.create on Kafka -> payment.succeeded', commands.kafkaPaymentCreateToSucceeded),
  );
  console.log(
    line(
      'command: OrderStockConfirmed -> OrderPaymentSucceeded',
      commands.rabbitOrderStockConfirmedToOrderPaymentSucceeded,
    ),
  );
  console.log(`ledger clean; results in ${file}`);
} catch (error) {
  console.error('[bench:events] failed:', error);
  process.exitCode = 1;
} finally {
  clearTimeout(overall);
  await cleanup();
}
