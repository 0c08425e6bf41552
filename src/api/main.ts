import '../require-node.mjs';
import { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { loadConfig } from '../config.js';
import { createLogger, lifecycle } from '../logger.js';
import { installProcessPolicy } from '../process-policy.js';
import { clientInterceptors, setupTracing } from '../tracing.js';
import { connectDatabase, migrateDatabase } from '../db/client.js';
import { buildApp } from './app.js';
import { connectTemporal } from './temporal-connection.js';

/** The API process alone, against an existing Temporal and PostgreSQL (production shape). */
const config = loadConfig();
installProcessPolicy(createLogger(config.logLevel, 'api'));
if (!config.databaseUrl)
  throw new Error('DATABASE_URL is required (npm run dev starts an embedded PostgreSQL for you)');

await migrateDatabase(config.databaseUrl);
const database = connectDatabase(config.databaseUrl, { max: 20, connectionTimeoutMillis: 2_000 });
const connection = connectTemporal(config.temporalAddress ?? '127.0.0.1:7233');
const tracing = setupTracing('paysaga-api');
const temporal = new Client({
  connection,
  namespace: config.temporalNamespace,
  interceptors: clientInterceptors(),
});
const app = await buildApp({ config, db: database.db, temporal });
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
      .then(() => app.services.eventHub.close())
      .then(() => connection.close())
      .then(() => database.close())
      .then(() => tracing.shutdown());
  });
}
