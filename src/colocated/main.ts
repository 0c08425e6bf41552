import '../require-node.mjs';
import type { Logger } from 'pino';
import { openConnections } from '../app/index.js';
import { buildApp } from '../api/app.js';
import { loadConfig } from '../config.js';
import { SettledPayments } from '../events/settled.js';
import { createLogger, lifecycle } from '../logger.js';
import { installProcessPolicy, RESTART_EXIT_CODE } from '../process-policy.js';
import { setupTracing } from '../tracing.js';
import { startWorkerProcess } from '../worker/process.js';

/**
 * The API and the worker in one process (`PAYSAGA_COLOCATED=1` under `npm run dev`, the bench's
 * `colocated` topology), for deployments where a payment's latency matters most. The API's
 * Temporal client shares the worker's connection, so a payment that the caller waits for starts
 * eagerly: Temporal's answer to the start carries the workflow's first task, which this process
 * runs at once, and the payment's settled state reaches the request from the activity that
 * wrote it (src/events/settled.ts). Scale it as the two processes it replaces: each replica
 * polls the task queue and serves HTTP.
 */
const config = loadConfig();
const logger = createLogger(config.logLevel, 'worker');
installProcessPolicy(logger);
const tracing = setupTracing('paysaga');
const settled = new SettledPayments();
// Signals are this file's to handle: the API stops taking requests before the worker drains.
const worker = await startWorkerProcess(config, logger, tracing, { settled, shutdownSignals: [] });
let closing = false;
const running = worker.run().then(
  () => {
    if (closing) return;
    lifecycle(logger).fatal('the worker stopped on its own: exiting to be restarted');
    process.exit(RESTART_EXIT_CODE);
  },
  (error: unknown) => {
    lifecycle(logger).fatal({ err: error }, 'the worker failed: exiting to be restarted');
    process.exit(RESTART_EXIT_CODE);
  },
);
const connections = await openConnections(
  config,
  { max: 20, connectionTimeoutMillis: 2_000 },
  worker.connection,
);
const app = await buildApp({ config, db: connections.db, temporal: connections.temporal, settled });
const url = await app.listen({ port: config.port, host: config.host });
lifecycle(app.log as Logger).info(
  `api listening on ${url}, with the worker in the same process: waiting payments start eagerly`,
);

// Under `npm run dev` a Ctrl-C reaches this process twice (terminal SIGINT, then the dev
// script's SIGTERM): shut down once. The API finishes its requests first, then the worker
// drains and closes the connection they share, then the API's pool closes.
async function close(): Promise<void> {
  try {
    await app.close();
    await app.services.streams.close();
  } finally {
    worker.shutdown();
    await running;
    await connections.close();
    await tracing.shutdown();
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    close().catch((error: unknown) => {
      lifecycle(logger).error({ err: error }, 'shutting down failed');
      process.exitCode = 1;
    });
  });
}
