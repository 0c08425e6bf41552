import '../require-node.mjs';
import type { Logger } from 'pino';
import { loadConfig } from '../config.js';
import { createLogger, lifecycle } from '../logger.js';
import { installProcessPolicy } from '../process-policy.js';
import { setupTracing } from '../tracing.js';
import { openConnections } from '../app/index.js';
import { buildApp } from './app.js';

/** The API process alone, against an existing Temporal and PostgreSQL (production shape). */
const config = loadConfig();
installProcessPolicy(createLogger(config.logLevel, 'api'));
const tracing = setupTracing('paysaga-api');
const connections = await openConnections(config, { max: 20, connectionTimeoutMillis: 2_000 });
const app = await buildApp({ config, db: connections.db, temporal: connections.temporal });
const url = await app.listen({ port: config.port, host: config.host });
lifecycle(app.log as Logger).info(`api listening on ${url}`);

// Under `npm run dev` a Ctrl-C reaches this process twice (terminal SIGINT, then the dev
// script's SIGTERM): shut down once.
let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    void app
      .close()
      .then(() => app.services.streams.close())
      .then(() => connections.close())
      .then(() => tracing.shutdown());
  });
}
