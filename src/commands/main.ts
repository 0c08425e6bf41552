import '../require-node.mjs';
import { Client } from '@temporalio/client';
import { createServices } from '../api/plugins/services.js';
import { connectTemporal } from '../api/temporal-connection.js';
import { loadConfig } from '../config.js';
import { createLogger, lifecycle } from '../logger.js';
import { installProcessPolicy } from '../process-policy.js';
import { clientInterceptors, setupTracing } from '../tracing.js';
import { connectDatabase, migrateDatabase } from '../db/client.js';
import { loadCommandOffsets, saveCommandOffset } from '../db/command-offsets.js';
import { sql } from '../db/orm.js';
import { brokerSinks } from '../domain/sinks.js';
import { withTimeout } from '../app/with-timeout.js';
import { AMQP_COMMANDS_QUEUE, runAmqpCommands } from './amqp-source.js';
import { CommandHandler } from './handler.js';
import { KAFKA_COMMANDS_GROUP, KAFKA_COMMANDS_TOPIC, runKafkaCommands } from './kafka-source.js';

/**
 * The command consumer alone (`npm run consumer`): reads `paysaga.commands` and the queues /
 * topics bound to one tenant from every broker `EVENT_SINKS` names, and starts the workflows the
 * HTTP API would start. Any number may run.
 */
const config = loadConfig();
const logger = createLogger(config.logLevel, 'consumer');
installProcessPolicy(logger);
if (!config.databaseUrl)
  throw new Error('DATABASE_URL is required (npm run dev starts an embedded PostgreSQL for you)');
const brokers = brokerSinks(config.eventSinks);
if (brokers.length === 0) throw new Error('EVENT_SINKS names no broker (kafka, amqp) to read commands from');

await migrateDatabase(config.databaseUrl);
const database = connectDatabase(config.databaseUrl, { max: 10 });
const connection = connectTemporal(config.temporalAddress ?? '127.0.0.1:7233');
setupTracing('paysaga-consumer');
const temporal = new Client({
  connection,
  namespace: config.temporalNamespace,
  interceptors: clientInterceptors(),
});
const services = createServices({ config, db: database.db, temporal });
const handler = new CommandHandler(services, new Set(config.apiKeys.values()));
const stopping = new AbortController();
const log = (line: string) => logger.info(line);
const PROBE_TIMEOUT_MS = 2_000;
/** PostgreSQL and Temporal both answer (within 2 s): a command failing now fails on its own. */
const dependenciesUp = async () => {
  const answers = await Promise.all([
    withTimeout(database.db.execute(sql`SELECT 1`), PROBE_TIMEOUT_MS).catch(() => false),
    withTimeout(
      temporal.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => temporal.workflowService.getSystemInfo({})),
      PROBE_TIMEOUT_MS,
    ).catch(() => false),
  ]);
  return answers.every(Boolean);
};
const deps = {
  handler,
  trust: {
    secrets: config.commands.secrets,
    tenantSources: config.commands.tenantSources,
    toleranceSec: config.commands.signatureToleranceSec,
    defaultTenant: config.commandsTenant,
  },
  dependenciesUp,
  maxAttempts: config.commands.maxAttempts,
  log,
  signal: stopping.signal,
};
const sources = (shared: string) => [shared, ...config.commands.tenantSources.keys()];

const running = brokers.map((broker) => {
  if (broker === 'kafka') {
    if (!config.kafkaBrokers?.length) throw new Error('EVENT_SINKS names kafka but KAFKA_BROKERS is unset');
    return runKafkaCommands(
      {
        connection: { brokers: config.kafkaBrokers, security: config.kafkaSecurity },
        topics: sources(KAFKA_COMMANDS_TOPIC),
        group: KAFKA_COMMANDS_GROUP,
        offsets: {
          load: (group, topic) => loadCommandOffsets(database.db, group, topic),
          save: (group, topic, partition, next) =>
            saveCommandOffset(database.db, group, topic, partition, next),
        },
        start: config.commands.kafkaStart,
      },
      deps,
    );
  }
  if (!config.amqpUrl) throw new Error('EVENT_SINKS names amqp but AMQP_URL is unset');
  return runAmqpCommands(config.amqpUrl, sources(AMQP_COMMANDS_QUEUE), deps);
});
lifecycle(logger).info(`consumer listening for commands on ${brokers.join(', ')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopping.abort());
const results = await Promise.allSettled(running);
for (const result of results)
  if (result.status === 'rejected') logger.error({ err: result.reason }, 'consumer failed');
await connection.close();
await database.close();
process.exitCode = results.some((result) => result.status === 'rejected') && !stopping.signal.aborted ? 1 : 0;
