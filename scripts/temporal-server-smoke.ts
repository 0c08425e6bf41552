/**
 * `npx tsx scripts/temporal-server-smoke.ts [--reuse] [--burst N]`: the real Temporal server
 * (tools/stack/temporal-server.ts) end to end on an embedded PostgreSQL under
 * `.tmp/temporal-server-smoke/`: starts both, runs 20 no-op workflows one after the other with
 * Paysaga's search attributes through a worker in this process, finds them again through SQL
 * visibility, then a burst of concurrent ones for a throughput figure, and stops everything.
 * Exit code 0 when all of it worked. `--reuse` keeps the previous run's database (a second start
 * on existing schemas and namespace); by default it starts from nothing. `--dev-server` runs the
 * same on the CLI dev server instead, for comparison.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  DefaultLogger,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import { freePort } from '../src/free-port.js';
import { PROJECT_ROOT } from '../src/project-root.js';
import { SearchAttributes } from '../src/workflows/contract.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../tools/stack/embedded-postgres.js';
import { startTemporalDevServer, type DevServer } from '../tools/stack/temporal-dev-server.js';
import { ensureTemporalServer, startTemporalServer } from '../tools/stack/temporal-server.js';

const { values: flags } = parseArgs({
  options: {
    reuse: { type: 'boolean', default: false },
    burst: { type: 'string', default: '200' },
    'dev-server': { type: 'boolean', default: false },
  },
});
const SEQUENTIAL = 20;
const BURST = Number(flags.burst);
const BURST_CONCURRENCY = 20;
const TENANT = 'smoke';
const ROOT = path.join(PROJECT_ROOT, '.tmp', 'temporal-server-smoke');
const TASK_QUEUE = 'temporal-server-smoke';

const started = performance.now();
const say = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`);

/** A step that may hang fails after `ms` instead. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let database: EmbeddedDatabase | undefined;
let server: DevServer | undefined;

// Neither child may outlive a run that ends early (a timeout, an uncaught error).
process.once('exit', () => {
  if (server?.pid) process.kill(server.pid, 'SIGKILL');
  if (database?.pid) process.kill(database.pid, 'SIGINT');
});

async function main(): Promise<void> {
  const port = await freePort();
  const uiPort = await freePort();
  let serverStart = performance.now();
  if (flags['dev-server']) {
    server = await within(60_000, 'dev server start', startTemporalDevServer({ port, uiPort }));
  } else {
    // The first build takes minutes and has its own timeout; everything after it is bounded here.
    await ensureTemporalServer(say);
    say('binaries ready');
    if (!flags.reuse) await rm(ROOT, { recursive: true, force: true });

    const pgPort = await freePort();
    database = await within(
      60_000,
      'PostgreSQL start',
      startEmbeddedPostgres({ dataDir: path.join(ROOT, 'postgres'), port: pgPort, persistent: true }),
    );
    say(`PostgreSQL on ${pgPort}`);
    serverStart = performance.now();
    server = await within(
      180_000,
      'Temporal server start',
      startTemporalServer({
        port,
        uiPort,
        postgres: { host: '127.0.0.1', port: pgPort, user: 'postgres', password: 'postgres' },
        dataDir: path.join(ROOT, 'temporal'),
        log: (chunk) => {
          for (const line of chunk.split('\n').filter(Boolean)) console.log(`  temporal| ${line}`);
        },
      }),
    );
  }
  say(
    `Temporal server ${server.address} (pid ${server.pid}) ready in ${((performance.now() - serverStart) / 1000).toFixed(1)} s; UI ${server.uiUrl ?? 'none'}`,
  );
  if (server.uiUrl) {
    const page = await within(10_000, 'Web UI', fetch(server.uiUrl));
    say(`Web UI answers ${page.status} (${(await page.text()).length} bytes of HTML)`);
  }

  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  const workerConnection = await within(
    10_000,
    'worker connection',
    NativeConnection.connect({ address: server.address }),
  );
  const worker = await within(
    60_000,
    'worker bundle',
    Worker.create({
      connection: workerConnection,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      workflowsPath: fileURLToPath(new URL('./temporal-server-smoke-workflow.ts', import.meta.url)),
    }),
  );
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const runId = Date.now().toString(36);

  const execute = (id: string, amount: number) =>
    client.workflow.execute('smokeWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: `smoke-${runId}-${id}`,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: SearchAttributes.TenantId, value: TENANT },
        { key: SearchAttributes.AmountMinor, value: amount },
      ]),
    });

  await worker.runUntil(async () => {
    // The first one also pays for the worker's first poll and the workflow cache: timed apart.
    let t = performance.now();
    await within(30_000, 'first workflow', execute('first', 0));
    say(`first workflow: ${(performance.now() - t).toFixed(0)} ms`);

    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      t = performance.now();
      await within(30_000, `workflow ${i}`, execute(String(i), i));
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    say(
      `${SEQUENTIAL} workflows one after the other: mean ${mean.toFixed(1)} ms, p50 ${latencies[Math.floor(SEQUENTIAL / 2)]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms per workflow`,
    );

    // SQL visibility is written by history's visibility queue after the fact: poll.
    const query = `TenantId='${TENANT}' AND AmountMinor < ${SEQUENTIAL}`;
    t = performance.now();
    let found = 0;
    const deadline = Date.now() + 15_000;
    while (found < SEQUENTIAL + 1 && Date.now() < deadline) {
      found = 0;
      for await (const execution of client.workflow.list({ query })) {
        if (execution.workflowId.startsWith(`smoke-${runId}-`)) found++;
      }
      if (found < SEQUENTIAL + 1) await new Promise((r) => setTimeout(r, 250));
    }
    say(
      `visibility "${query}" finds ${found} of this run's ${SEQUENTIAL + 1} after ${(performance.now() - t).toFixed(0)} ms`,
    );
    if (found < SEQUENTIAL + 1) throw new Error('visibility did not find every workflow within 15 s');
    if (server?.uiUrl) {
      // The Web UI's own API, as the browser calls it: the UI server reaches the frontend.
      const url = `${server.uiUrl}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
      const response = await within(10_000, 'Web UI API', fetch(url));
      const body = (await response.json()) as { executions?: unknown[] };
      say(
        `Web UI API lists ${body.executions?.length ?? 0} workflows for the same query (HTTP ${response.status})`,
      );
      if (!body.executions?.length) throw new Error('the Web UI API lists no workflows');
    }

    if (BURST > 0) {
      t = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < BURST) {
          const i = next++;
          await execute(`burst-${i}`, SEQUENTIAL + i);
        }
      };
      await within(120_000, 'burst', Promise.all(Array.from({ length: BURST_CONCURRENCY }, lane)));
      const seconds = (performance.now() - t) / 1000;
      say(
        `${BURST} workflows, ${BURST_CONCURRENCY} at a time: ${seconds.toFixed(1)} s, ${(BURST / seconds).toFixed(1)} workflows/s, ${((seconds * 1000) / BURST).toFixed(1)} ms per workflow`,
      );
    }
  });
  await connection.close();
  await workerConnection.close();
}

async function stopAll(): Promise<void> {
  const t = performance.now();
  if (server) await within(30_000, 'Temporal server stop', server.stop());
  if (server) say(`Temporal server stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  server = undefined;
  if (database) await within(30_000, 'PostgreSQL stop', database.stop());
  database = undefined;
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(error);
}
try {
  await stopAll();
} catch (error) {
  failed = true;
  console.error(error);
}
say(failed ? 'FAILED' : 'OK');
process.exit(failed ? 1 : 0);
