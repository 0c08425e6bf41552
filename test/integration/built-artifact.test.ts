import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import { freePort } from '../../src/free-port.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { startChildServer } from '../../tools/stack/child-server.js';
import type { Running } from '../../tools/stack/supervisor.js';
import { startTemporalDevServer } from '../../tools/stack/temporal-dev-server.js';
import { requestParts, uid } from '../support/http.js';

/**
 * The production build (`npm run build`, tsconfig.build.json) runs on plain Node: the sandbox
 * gateway, the worker and the API are started from the emitted JavaScript, without tsx and with
 * Node's own TypeScript stripping off (so a `.ts` file the build still reached would fail to
 * load), against the stack's PostgreSQL, and one card payment goes through them. They have a
 * Temporal server of their own, where the built worker is the only worker: the payment can only
 * have run there.
 */
const OUT_DIR = path.join(PROJECT_ROOT, '.tmp', 'built-artifact');
const built = (file: string) => path.join(OUT_DIR, file);
const PLAIN_NODE = ['--no-experimental-strip-types'];

const running: Running[] = [];
const workerLines: string[] = [];
let apiUrl: string;
let temporal: { connection: Connection; client: Client } | undefined;

/** `npm run build`, into this test's own folder. */
async function build(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = Date.now();
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', OUT_DIR], {
    cwd: PROJECT_ROOT,
  });
  console.log(`built-artifact: the build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The stack's environment for a process of the build, without anything that would load tsx. */
function processEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...inject('stackEnv'), ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

async function startBuilt(options: {
  name: string;
  args: string[];
  env: Record<string, string>;
  ready: RegExp;
  onLine?: (line: string) => void;
}): Promise<void> {
  const child = await startChildServer({
    name: options.name,
    command: process.execPath,
    args: [...PLAIN_NODE, ...options.args],
    env: processEnv(options.env),
    ready: options.ready,
    notable: /./,
    log: options.onLine ?? (() => undefined),
    timeoutMs: 120_000,
  });
  running.push(child);
}

beforeAll(async () => {
  await rm(OUT_DIR, { recursive: true, force: true });
  const [, server] = await Promise.all([build(), startTemporalDevServer({ port: await freePort() })]);
  running.push(server);
  const connection = await Connection.connect({ address: server.address });
  temporal = { connection, client: new Client({ connection }) };

  const gatewayPort = await freePort();
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const shared = { TEMPORAL_ADDRESS: server.address, GATEWAY_URL: gatewayUrl, METRICS_PORT: '0' };
  await startBuilt({
    name: 'built sandbox',
    args: [built('sandbox/main.js')],
    env: { SANDBOX_PORT: String(gatewayPort), SANDBOX_WEBHOOK_URL: `${apiUrl}/v1/webhooks/sandbox` },
    ready: /listening/,
  });
  await Promise.all([
    startBuilt({
      name: 'built worker',
      args: ['--import', built('src/worker/workflow-threads.js'), built('src/worker/main.js')],
      env: shared,
      ready: /worker polling/,
      onLine: (line) => workerLines.push(line),
    }),
    startBuilt({
      name: 'built api',
      args: [built('src/api/main.js')],
      env: { ...shared, PORT: String(apiPort), PUBLIC_URL: apiUrl },
      ready: /api listening/,
    }),
  ]);
}, 300_000);

afterAll(async () => {
  await temporal?.connection.close();
  await Promise.all(running.map((child) => child.stop()));
  await rm(OUT_DIR, { recursive: true, force: true });
});

describe('the built artifact', () => {
  it('pays a card payment through the API, worker and sandbox started from the build with plain node', async () => {
    const orderId = uid('ord');
    const { headers, payload } = requestParts({
      orderId,
      customerId: uid('cus'),
      amount: 4200,
      currency: 'EUR',
      capture: 'automatic',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    const response = await fetch(`${apiUrl}/v1/payments`, { method: 'POST', headers, body: payload });
    const body = (await response.json()) as { status: string };
    expect(response.status).toBe(200);
    expect(body.status).toBe('succeeded');

    const workflow = await temporal!.client.workflow
      .getHandle(paymentWorkflowId('default', orderId))
      .describe();
    expect(workflow.status.name).toBe('COMPLETED');
    // The workflow threads' preload was recognised in its built form.
    expect(workerLines.some((line) => line.includes('workflow stack traces off'))).toBe(true);
  });
});
