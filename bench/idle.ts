/**
 * `npm run bench:idle`: the memory the API and the worker hold at rest. Starts a stack (embedded
 * PostgreSQL, the Temporal dev server, the sandbox gateway, worker and API), leaves it alone for
 * BENCH_IDLE_SECONDS (20), then samples each process tree's RSS for BENCH_IDLE_SAMPLE_SECONDS (5)
 * and prints the highest. The processes run from the sources through tsx, as `npm run dev` runs
 * them; with `-- --build dist` (after `npm run build`), from the build with plain node, as the
 * image runs them.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePort } from '../src/free-port.js';
import { startStack, type Stack } from '../tools/stack/stack.js';
import { createMeter, stackRoots } from './resources.js';

const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 20);
const SAMPLE_SECONDS = Number(process.env.BENCH_IDLE_SAMPLE_SECONDS ?? 5);
const { build } = parseArgs({ options: { build: { type: 'string' } } }).values;
const runtime = build ? `the build in ${build}, plain node` : 'the sources through tsx';

const tempDir = mkdtempSync(path.join(os.tmpdir(), 'paysaga-idle-'));
chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
const postgresDir = path.join(tempDir, 'postgres');
let stack: Stack | undefined;
try {
  stack = await startStack({
    postgresDir,
    persistentPostgres: false,
    build,
    env: { METRICS_PORT: String(await freePort()) },
    log: () => undefined,
  });
  console.log(`[bench:idle] stack up from ${runtime}; idle for ${IDLE_SECONDS} s`);
  await sleep(IDLE_SECONDS * 1000);
  const probe = createMeter(() => stackRoots(stack!.processes, postgresDir)).start();
  await sleep(SAMPLE_SECONDS * 1000);
  const usage = probe.stop(0);
  for (const name of ['api', 'worker', 'app', 'gateway']) {
    const process = usage?.processes[name];
    if (process)
      console.log(
        `[bench:idle] ${name}: ${process.rssPeakMb} MB RSS (${process.processes} process(es)), ` +
          `${process.cores.toFixed(3)} cores`,
      );
  }
} finally {
  await stack?.stop();
  rmSync(tempDir, { recursive: true, force: true });
}
