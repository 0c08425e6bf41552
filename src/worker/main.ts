import '../require-node.mjs';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { installProcessPolicy } from '../process-policy.js';
import { setupTracing } from '../tracing.js';
import { startWorkerProcess } from './process.js';

/** The worker process alone, against an existing Temporal and PostgreSQL (production shape). */
const config = loadConfig();
const logger = createLogger(config.logLevel, 'worker');
installProcessPolicy(logger);
const tracing = setupTracing('paysaga-worker');
const worker = await startWorkerProcess(config, logger, tracing);
// A Ctrl-C under `npm run dev` arrives twice (terminal SIGINT, dev script SIGTERM): shut down once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => worker.shutdown());
await worker.run();
await tracing.shutdown();
