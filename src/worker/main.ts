import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../config.js';
import { connectDatabase, migrateDatabase } from '../db/client.js';
import { createConnectorRegistry } from '../gateway/registry.js';
import { createPaysagaWorker } from './worker.js';

/** The worker process alone, against an existing Temporal and PostgreSQL (production shape). */
const config = loadConfig();
if (!config.databaseUrl)
  throw new Error('DATABASE_URL is required (npm run dev starts an embedded PostgreSQL for you)');

Runtime.install({
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
});
await migrateDatabase(config.databaseUrl);
const database = connectDatabase(config.databaseUrl, { max: 20 });
const connection = await NativeConnection.connect({ address: config.temporalAddress ?? '127.0.0.1:7233' });
const worker = await createPaysagaWorker({
  connection,
  namespace: config.temporalNamespace,
  taskQueue: config.taskQueue,
  db: database.db,
  connectors: createConnectorRegistry(config),
});
console.log(`worker polling task queue on ${config.temporalAddress ?? '127.0.0.1:7233'}`);
// A Ctrl-C under `npm run dev` arrives twice (terminal SIGINT, dev script SIGTERM): shut down once.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    worker.shutdown();
  });
}
await worker.run();
await connection.close();
await database.close();
