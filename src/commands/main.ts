import '../require-node.mjs';
import { createPaymentUseCases, openConnections } from '../app/index.js';
import { dependenciesAnswer } from '../app/readiness.js';
import { loadConfig } from '../config.js';
import { createLogger, lifecycle } from '../logger.js';
import { installProcessPolicy } from '../process-policy.js';
import { setupTracing } from '../tracing.js';
import { loadCommandOffsets, saveCommandOffset } from '../db/command-offsets.js';
import { brokerSinks } from '../domain/sinks.js';
import { findProfileMessage, latestEventOf, recordProfileMessage } from '../db/profiles.js';
import { messagesFor, ProfilePublisher, profileSinkName } from '../events/profile-sink.js';
import { ensureRelayCursors } from '../db/outbox.js';
import { findPayment } from '../db/payments.js';
import { loadProfiles } from '../profiles/registry.js';
import type { Inbound } from '../profiles/profile.js';
import type { ProfileSources } from './process.js';
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
const brokers = brokerSinks(config.eventSinks);
if (brokers.length === 0) throw new Error('EVENT_SINKS names no broker (kafka, amqp) to read commands from');

setupTracing('paysaga-consumer');
const connections = await openConnections(config, { max: 10 });
// Only what commands start: payments and refunds, through the process's Temporal gateway.
const useCases = createPaymentUseCases({ config, db: connections.db, temporal: connections.temporal });
await useCases.identity.start();
// The environment's tenants sign commands (COMMAND_SECRETS); a suspended one's are refused.
const keyTenants = new Set(config.apiKeys.values());
const handler = new CommandHandler(useCases, {
  has: (tenantId) => keyTenants.has(tenantId) && useCases.identity.isActive(tenantId),
});
const profiles = loadProfiles(config.profiles);
for (const { source, inbound } of profiles.sources()) {
  const name = source.broker === 'kafka' ? source.topic : source.queue;
  if (name.startsWith('paysaga.') || config.commands.tenantSources.has(name))
    throw new Error(
      `profile ${inbound.profile.name} reads ${name}, which is Paysaga's own or bound to a tenant`,
    );
  if (!brokers.includes(source.broker))
    throw new Error(
      `profile ${inbound.profile.name} reads ${source.broker} ${name}, but EVENT_SINKS does not name ${source.broker}`,
    );
}
// The profiles' relay cursors exist before any of their payments starts: none of their results
// falls before a cursor made later.
await ensureRelayCursors(connections.db, profiles.profiles.map(profileSinkName));
// Duplicates answered again go out as the relay sends results: through the profile's bindings.
const republisher = ProfilePublisher.forProfiles(profiles.profiles, config);
const TERMINAL = ['payment.succeeded', 'payment.failed', 'payment.canceled'];
const TERMINAL_STATUSES = new Set(['succeeded', 'failed', 'canceled', 'partially_refunded', 'refunded']);
const messageKey = (inbound: Inbound, key: string) => ({
  tenantId: inbound.profile.tenantId,
  profile: inbound.profile.name,
  binding: inbound.binding.name,
  idempotencyKey: key,
});
const profileSources: ProfileSources = {
  inboundFor: (broker, source) => (broker ? profiles.inboundFor(broker, source) : undefined),
  seen: (inbound, key) => findProfileMessage(connections.db, messageKey(inbound, key)),
  record: (inbound, key, resourceId) =>
    recordProfileMessage(connections.db, messageKey(inbound, key), resourceId),
  async republish(inbound, paymentId) {
    const profile = profiles.profile(inbound.profile.tenantId, inbound.profile.name);
    // Answered again only while its result stands (not a payment running again: its next result goes out).
    const payment = await findPayment(connections.db, inbound.profile.tenantId, paymentId);
    if (!payment || !TERMINAL_STATUSES.has(payment.status)) return;
    const event = await latestEventOf(
      connections.db,
      inbound.profile.tenantId,
      `payments/${paymentId}`,
      TERMINAL,
    );
    if (!profile || !event) return;
    const messages = await messagesFor(connections.db, profile, event, async (outbound, error) => {
      logger.warn(
        `${profile.name}: not publishing ${event.type} ${event.id} again for ${outbound.binding.name}: ${error.message}`,
      );
    });
    await republisher.publish(messages);
    log(`${profile.name}: published the result of ${paymentId} again (${messages.length} messages)`);
  },
};
const stopping = new AbortController();
const log = (line: string) => logger.info(line);
const PROBE_TIMEOUT_MS = 2_000;
/** PostgreSQL and Temporal both answer (within 2 s): a command failing now fails on its own. */
const dependenciesUp = () => dependenciesAnswer(connections.db, useCases.temporal, PROBE_TIMEOUT_MS);
const deps = {
  handler,
  profiles: profiles.empty ? undefined : profileSources,
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

const running = brokers.flatMap((broker) => {
  if (broker === 'kafka') {
    if (!config.kafkaBrokers?.length) throw new Error('EVENT_SINKS names kafka but KAFKA_BROKERS is unset');
    const connection = { brokers: config.kafkaBrokers, security: config.kafkaSecurity };
    // Paysaga's own topics in its group; each profile's topics in the group its binding names.
    const groups = new Map<string, string[]>([[KAFKA_COMMANDS_GROUP, sources(KAFKA_COMMANDS_TOPIC)]]);
    for (const { source } of profiles.sources())
      if (source.broker === 'kafka')
        groups.set(source.group, [...(groups.get(source.group) ?? []), source.topic]);
    return [...groups].map(([group, topics]) =>
      runKafkaCommands(
        {
          connection,
          topics,
          group,
          offsets: {
            load: (group, topic) => loadCommandOffsets(connections.db, group, topic),
            save: (group, topic, partition, next) =>
              saveCommandOffset(connections.db, group, topic, partition, next),
          },
          start: config.commands.kafkaStart,
        },
        deps,
      ),
    );
  }
  if (!config.amqpUrl) throw new Error('EVENT_SINKS names amqp but AMQP_URL is unset');
  const profileQueues = profiles
    .sources()
    .flatMap(({ source }) => (source.broker === 'amqp' ? [source] : []));
  // Each profile's queue in a session of its own: a queue or exchange declared otherwise by its
  // system (a refused declaration closes the channel) holds only that binding.
  const url = config.amqpUrl;
  return [
    runAmqpCommands(url, sources(AMQP_COMMANDS_QUEUE), deps),
    ...profileQueues.map((queue) => runAmqpCommands(url, [queue], deps)),
  ];
});
lifecycle(logger).info(`consumer listening for commands on ${brokers.join(', ')}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopping.abort());
const results = await Promise.allSettled(running);
for (const result of results)
  if (result.status === 'rejected') logger.error({ err: result.reason }, 'consumer failed');
await republisher.close();
await useCases.identity.close();
await connections.close();
process.exitCode = results.some((result) => result.status === 'rejected') && !stopping.signal.aborted ? 1 : 0;
