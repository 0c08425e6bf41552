import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Config } from '../config.js';
import { connectDatabase, migrateDatabase } from '../db/client.js';
import { createConnectorRegistry } from '../gateway/registry.js';
import { EventHub } from '../events/hub.js';
import { createEventSinks } from '../events/sinks.js';
import { ProfilePublisher, ProfileSink } from '../events/profile-sink.js';
import { countProfileFailures } from '../db/profiles.js';
import { loadProfiles } from '../profiles/registry.js';
import { freePort } from '../free-port.js';
import type { Logger } from 'pino';
import { lifecycle, temporalLogger } from '../logger.js';
import { parkedEventMetrics, relayLagMetrics, serveMetrics, workerMetrics } from '../metrics.js';
import { ensureRelayCursors, relayLag } from '../db/outbox.js';
import { RESTART_EXIT_CODE } from '../process-policy.js';
import type { Tracing } from '../tracing.js';
import type { SettledPayments } from '../events/settled.js';
import { WebhookEgress } from '../webhooks/egress.js';
import { SecretBox } from '../webhooks/secrets.js';
import { createEventRelayWorker, createPaysagaWorker } from './worker.js';
import { stackTracesWanted, threadWatchWanted, watchWorkflowThreads } from './workflow-threads.js';

/** A running worker process: Paysaga's workers and the event relay, on one Temporal connection. */
export interface WorkerProcess {
  /** What the workers poll on: a co-located API's client shares it (eager workflow start). */
  readonly connection: NativeConnection;
  /** Runs the workers until `shutdown`, then closes what the process opened (not the tracing). */
  run(): Promise<void>;
  /** Asks the workers to drain and stop (once is enough; later calls do nothing). */
  shutdown(): void;
}

/**
 * The worker's side of a process, against an existing Temporal and PostgreSQL: the worker
 * process alone (./main.ts), or next to the API in the co-located one (src/colocated/main.ts).
 */
export async function startWorkerProcess(
  config: Config,
  logger: Logger,
  tracing: Tracing,
  options: {
    /** Requests of this process waiting for payments to settle (the co-located mode). */
    settled?: SettledPayments | undefined;
    /**
     * The signals on which the SDK stops the workers by itself (its default: SIGINT, SIGTERM,
     * SIGQUIT, SIGUSR2). `[]` leaves it to the caller, which must call `shutdown`.
     */
    shutdownSignals?: NodeJS.Signals[] | undefined;
  } = {},
): Promise<WorkerProcess> {
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl)
    throw new Error('DATABASE_URL is required (npm run dev starts an embedded PostgreSQL for you)');
  // The SDK's own metrics (task latencies, slots, polls, cache) come from its Prometheus exporter
  // on a loopback port; /metrics on METRICS_PORT serves them after Paysaga's.
  const sdkMetricsPort = config.metricsPort > 0 ? await freePort() : undefined;
  Runtime.install({
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
    // Every line as JSON through pino: the worker's, the SDK's, workflows' and activities' (with
    // their workflow and run ids), and the core's, forwarded.
    logger: temporalLogger(logger),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(sdkMetricsPort
        ? {
            metrics: {
              prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}`, useSecondsForDurations: true },
            },
          }
        : {}),
    },
  });
  const metrics = workerMetrics();
  const metricsServer =
    config.metricsPort > 0
      ? await serveMetrics({
          registry: metrics.registry,
          port: config.metricsPort,
          host: config.host,
          extra: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
          log: (line) => logger.warn(line),
        })
      : undefined;
  if (metricsServer)
    lifecycle(logger).info(`worker metrics on http://${config.host}:${config.metricsPort}/metrics`);
  await migrateDatabase(databaseUrl);
  const database = connectDatabase(databaseUrl, {
    max: 20,
    preparedStatements: config.databasePreparedStatements,
  });
  const box = new SecretBox(config.webhookEncryptionKey);
  const egress = new WebhookEgress({
    allowedNetworks: config.webhookAllowedNetworks,
    log: (fields, message) => logger.info(fields, message),
  });
  const hub = new EventHub(databaseUrl);
  const connection = await NativeConnection.connect({ address: config.temporalAddress ?? '127.0.0.1:7233' });
  // Before the workflow threads start (src/worker/workflow-threads.ts): workflow code that never
  // yields stops the process, which is then restarted.
  watchWorkflowThreads(({ threadId, runningMs, limitMs }) => {
    lifecycle(logger).fatal(
      { threadId, runningMs, limitMs },
      `a call into workflow code ran ${runningMs} ms without yielding (limit ${limitMs} ms): exiting to be restarted`,
    );
    process.exit(RESTART_EXIT_CODE);
  });
  const worker = await createPaysagaWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    db: database.db,
    connectors: createConnectorRegistry(config),
    circuit: config.circuit,
    publicUrl: config.publicUrl,
    box,
    egress,
    metrics,
    tracing,
    settled: options.settled,
  });
  const sinks = await createEventSinks({
    names: config.eventSinks,
    kafkaBrokers: config.kafkaBrokers,
    kafkaSecurity: config.kafkaSecurity,
    amqpUrl: config.amqpUrl,
  });
  // Integration profiles (PROFILES): each a sink of its own, on its own cursor.
  const profiles = loadProfiles(config.profiles);
  // A publisher (connections) per profile: one system's broker refusing holds no other profile.
  const profileSinks = profiles.profiles.map((profile) => {
    const publisher = ProfilePublisher.forProfiles([profile], config);
    // Best effort: a broker that is down now gets them on the first message instead.
    void publisher
      .declare([profile])
      .catch((error: unknown) =>
        logger.warn({ err: error }, `profile ${profile.name}: topics and exchanges not declared yet`),
      );
    return new ProfileSink(profile, database.db, publisher, (line) => logger.warn(line));
  });
  sinks.push(...profileSinks);
  if (profileSinks.length > 0)
    parkedEventMetrics(metrics.registry, async () => {
      const parked = await countProfileFailures(database.db);
      return profileSinks.map((sink) => ({ sink: sink.name, parked: parked.get(sink.name) ?? 0 }));
    });
  // Every sink's cursor before anything relays: a sink added (a profile) sees what happens from now.
  await ensureRelayCursors(database.db, ['webhooks', ...sinks.map((sink) => sink.name)]);
  // The relay always runs: merchants' webhook endpoints are a sink of every deployment.
  const workers = [
    worker,
    await createEventRelayWorker({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      db: database.db,
      sinks,
      hub,
      coalesceMs: config.eventRelayCoalesceMs,
    }),
  ];
  const sinkNames = ['webhooks', ...sinks.map((sink) => sink.name)];
  relayLagMetrics(metrics.registry, () => relayLag(database.db, sinkNames));
  lifecycle(logger).info(
    `event relay publishing the outbox to ${sinkNames.join(', ')}, each on its own cursor`,
  );
  // Set by the preload in each workflow thread; without the preload the SDK's default (on) holds.
  const preloaded = process.execArgv.some((arg) => /workflow-threads\.[jt]s$/.test(arg));
  logger.info(
    preloaded && !stackTracesWanted()
      ? 'workflow stack traces off (WORKFLOW_STACK_TRACES=on turns them on)'
      : 'workflow stack traces on',
  );
  logger.info(
    preloaded && threadWatchWanted()
      ? "workflow deadlock detection: one watch per workflow thread (WORKFLOW_DEADLOCK_DETECTION=sdk: the SDK's own)"
      : "workflow deadlock detection: the SDK's",
  );
  lifecycle(logger).info(`worker polling task queue on ${config.temporalAddress ?? '127.0.0.1:7233'}`);
  let stopping = false;
  return {
    connection,
    shutdown: () => {
      if (stopping) return;
      stopping = true;
      // The SDK stops its workers itself on SIGINT and SIGTERM too (its runtime's signal handler):
      // a worker no longer running is left to finish.
      for (const each of workers) if (each.getState() === 'RUNNING') each.shutdown();
    },
    run: async () => {
      await Promise.all(workers.map((each) => each.run()));
      await Promise.all(sinks.map((sink) => sink.close()));
      await hub.close();
      metricsServer?.close();
      await connection.close();
      await database.close();
    },
  };
}
