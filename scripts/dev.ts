/**
 * `npm run dev`: the whole stack on one machine with nothing installed by hand. Embedded
 * PostgreSQL (unless DATABASE_URL), the Temporal dev server with the Web UI (unless
 * TEMPORAL_ADDRESS), the sandbox gateway, the worker and the API. Ctrl-C stops all of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { migrateDatabase } from '../src/db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/infra/embedded-postgres.js';
import { PROJECT_ROOT } from '../src/infra/temporal-binaries.js';
import { startTemporalDevServer, stopChild, type DevServer } from '../src/infra/temporal-dev-server.js';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';

const started = Date.now();
const dataDir = path.join(PROJECT_ROOT, '.data');
const port = Number(process.env.PORT ?? 3000);
const gatewayPort = Number(process.env.SANDBOX_PORT ?? 4010);
const say = (line: string) => console.log(`[dev] ${line}`);

let postgres: EmbeddedDatabase | undefined;
let temporal: DevServer | undefined;
const children: ChildProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping...');
    await Promise.all(children.map((child) => stopChild(child)));
    await temporal?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

function run(name: string, script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((line) => console.log(`[${name}] ${line}`));
  child.stdout?.on('data', prefix);
  child.stderr?.on('data', prefix);
  child.on('exit', (code) => {
    if (!stopping) {
      say(`${name} exited with code ${code}; stopping the stack`);
      void stopAll(1);
    }
  });
  children.push(child);
  return child;
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      if (pattern.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

try {
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pgPort = Number(process.env.EMBEDDED_PG_PORT ?? 54329);
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), port: pgPort, persistent: true });
    databaseUrl = postgres.url;
    say(`embedded PostgreSQL on 127.0.0.1:${pgPort} (data in .data/postgres)`);
  }
  await migrateDatabase(databaseUrl);

  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    temporal = await startTemporalDevServer({
      port: Number(process.env.TEMPORAL_PORT ?? 7233),
      uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
      dbFile: path.join(dataDir, 'temporal', 'temporal.db'),
      log: (line) => process.stdout.write(`[temporal] ${line}`),
    });
    temporalAddress = temporal.address;
    say(`Temporal dev server on ${temporalAddress} (history in .data/temporal/temporal.db)`);
  }

  const env = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    PORT: String(port),
    GATEWAY_URL: process.env.GATEWAY_URL ?? `http://127.0.0.1:${gatewayPort}`,
    SANDBOX_PORT: String(gatewayPort),
    SANDBOX_WEBHOOK_URL: process.env.SANDBOX_WEBHOOK_URL ?? `http://127.0.0.1:${port}/v1/webhooks/sandbox`,
  };
  const gateway = run('gateway', 'src/gateway/sandbox/main.ts', env);
  const worker = run('worker', 'src/worker/main.ts', env);
  const api = run('api', 'src/api/main.ts', env);
  await Promise.all([
    waitForLine(gateway, /listening/i),
    waitForLine(worker, /worker polling/i),
    waitForLine(api, /Server listening/i),
  ]);

  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`
  API           http://127.0.0.1:${port}          (Authorization: Bearer ${DEV_API_KEY}, tenant "default")
  API docs      http://127.0.0.1:${port}/docs
  Admin key     ${DEV_ADMIN_KEY}                 (GET /v1/ledger/verify)
  Web UI        ${temporal?.uiUrl ?? '(external Temporal: use its UI)'}
  Gateway       http://127.0.0.1:${gatewayPort}   (sandbox PSP)
  Temporal      ${temporalAddress}
  PostgreSQL    ${databaseUrl}

  Ctrl-C stops everything.
`);
} catch (error) {
  console.error('[dev] failed to start:', error);
  await stopAll(1);
}
