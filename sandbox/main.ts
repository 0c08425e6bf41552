import '../src/require-node.mjs';
import { pino } from 'pino';
import { installProcessPolicy } from '../src/process-policy.js';
import { createSandboxServer } from './server.js';

const logger = pino({ name: 'sandbox', timestamp: pino.stdTimeFunctions.isoTime });
installProcessPolicy(logger);

/** Runs the sandbox PSP as its own program (`npm run gateway`); src/ never imports from sandbox/. */
function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

const server = await createSandboxServer({
  port: intFromEnv('SANDBOX_PORT', 4010),
  host: process.env.SANDBOX_HOST || '127.0.0.1',
  webhookUrl: process.env.SANDBOX_WEBHOOK_URL || 'http://127.0.0.1:3000/v1/webhooks/sandbox',
  webhookSecret: process.env.GATEWAY_WEBHOOK_SECRET || 'whsec_dev_paysaga',
  latencyMs: intFromEnv('SANDBOX_LATENCY_MS', 0),
  ...(process.env.SANDBOX_PUBLIC_URL ? { publicUrl: process.env.SANDBOX_PUBLIC_URL } : {}),
});
logger.info(`sandbox gateway listening on ${server.url}`);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info(`sandbox gateway stopping (${signal})`);
  await server.close();
  process.exit(0);
}
process.once('SIGINT', (signal) => void shutdown(signal));
process.once('SIGTERM', (signal) => void shutdown(signal));
