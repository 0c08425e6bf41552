/**
 * `npm run chaos` (`-- --quick` or CHAOS_QUICK=1 for CI): starts a supervised stack on free ports
 * with persistent data in a temp folder, funds wallets, then runs open-loop payment load while it
 * injects one fault per phase (crashes of each component, gateway faults). After a settle window it
 * checks that nothing accepted was lost, nothing was charged twice and nothing is stuck, prints a
 * table, writes chaos/results/, and exits 0 only when every phase is clean. See chaos/README.md.
 */
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { call, mapLimit, topUp, type ApiTarget } from '../bench/api.js';
import { runOpenLoop } from '../bench/load.js';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';
import { takeOverShutdownSignals } from '../src/infra/embedded-postgres.js';
import { startStack, type Stack } from '../src/infra/stack.js';
import { checkPhase, failed, readWorld, runningOrders, settle } from './checks.js';
import type { RequestRecord, RetryPolicy } from './client.js';
import { DEFAULT_MIX, FAULTS, Sandbox, type FaultContext, type SandboxCounters } from './faults.js';
import { phaseFire, seededRandom } from './load.js';
import { renderTable, writeReport, type ChaosReport } from './report.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const TENANT = 'default';
const quick = process.argv.includes('--quick') || process.env.CHAOS_QUICK === '1';
const config = {
  phaseSeconds: quick ? 10 : 40,
  injectAtSeconds: quick ? 3 : 10,
  rate: quick ? 2.5 : 4,
  customers: quick ? 8 : 20,
  repeatShare: 0.1,
  /** After a component serves again, clients and pools need a moment to reconnect. */
  outageGraceSeconds: 10,
  settleSeconds: quick ? 60 : 120,
  maxMinutes: quick ? 4.5 : 14,
};
const policy: RetryPolicy = { maxAttempts: 12, attemptTimeoutMs: 25_000, maxDelayMs: 5_000 };
const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(seed);
const startedAt = new Date();
const runId = `${startedAt.getTime().toString(36)}${Math.floor(random() * 1e4)}`;
const clock = () => Date.now() - startedAt.getTime();
const say = (line: string) => console.log(`[chaos +${(clock() / 1000).toFixed(1)}s] ${line}`);

let stack: Stack | undefined;
let tempDir: string | undefined;
let cleaned: Promise<void> | undefined;
// Stopped while still starting: startStack stops what it started, then rejects.
const starting = new AbortController();
let startup: Promise<unknown> = Promise.resolve();
const cleanup = () =>
  (cleaned ??= (async () => {
    starting.abort(new Error('stopped while starting'));
    await startup.catch(() => undefined);
    await stack?.stop().catch((error: unknown) => say(`stopping the stack failed: ${String(error)}`));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  })());
takeOverShutdownSignals();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}
const overall = setTimeout(() => {
  say(`still running after ${config.maxMinutes} min: giving up`);
  void cleanup().then(() => process.exit(2));
}, config.maxMinutes * 60_000);

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitReady(apiUrl: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const status = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(3_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(500);
  }
  say(`API not ready after ${ms / 1000} s; going on`);
}

function difference(after: SandboxCounters, before: SandboxCounters): SandboxCounters {
  const keys = Object.keys(after) as (keyof SandboxCounters)[];
  return Object.fromEntries(keys.map((key) => [key, after[key] - before[key]])) as unknown as SandboxCounters;
}

/** Waits (bounded) until no payment workflow of the run is running. */
async function drained(temporalAddress: string, orderPrefix: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const running = await runningOrders(temporalAddress, TENANT, orderPrefix).catch(() => undefined);
    if (running?.size === 0) return;
    await sleep(1000);
  }
  say(`payments still running after ${ms / 1000} s; going on`);
}

async function main(report: ChaosReport): Promise<void> {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'paysaga-chaos-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logPath = path.join(RESULTS_DIR, 'stack.log');
  const logFile = createWriteStream(logPath);
  say(`run ${runId} (${report.mode}, seed ${seed}): starting the stack; its output goes to ${logPath}`);
  const pending = startStack({
    signal: starting.signal,
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: true,
    temporalDbFile: path.join(tempDir, 'temporal', 'temporal.db'),
    // One key sends all of the load: the rate limiter is not what this measures.
    env: {
      RATE_LIMIT_MAX: '1000000000',
      RATE_LIMIT_ANONYMOUS_MAX: '1000000000',
      LOG_LEVEL: 'warn',
      SYNC_WAIT_MS: '5000',
    },
    supervise: { initialMs: 500, maxMs: 10_000, resetAfterMs: 10_000 },
    log: (line) => logFile.write(`${line}\n`),
    onSupervisorLog: (line) => {
      report.supervisorLog.push(`+${(clock() / 1000).toFixed(1)}s ${line}`);
      logFile.write(`[supervisor] ${line}\n`);
      say(line);
    },
  });
  startup = pending;
  stack = await pending;
  const api: ApiTarget = { apiUrl: stack.apiUrl, apiKey: DEV_API_KEY, adminKey: DEV_ADMIN_KEY };
  const sandbox = new Sandbox(stack.gatewayUrl);
  const context: FaultContext = { stack, sandbox };

  const customers = Array.from({ length: config.customers }, (_, i) => `cus-chaos-${runId}-${i}`);
  say(`funding ${customers.length} wallets`);
  await mapLimit(customers, 4, (customer) => topUp(api, customer, 500_000));

  const orderPrefix = `chaos-${runId}`;
  const phases: {
    fault: string;
    records: RequestRecord[];
    injectedAt: number;
    recovered: number;
    sandbox: SandboxCounters;
  }[] = [];
  const outages: { from: number; to: number }[] = [];
  const loads: Promise<unknown>[] = [];
  const injectErrors = new Map<string, string>();
  for (const [i, fault] of FAULTS.entries()) {
    const records: RequestRecord[] = [];
    const load = {
      phase: fault.name,
      orderPrefix: `${orderPrefix}-${i}`,
      mix: fault.mix ?? DEFAULT_MIX,
      customers,
      repeatShare: config.repeatShare,
      random,
    };
    if (fault.quiesce) {
      say(`${fault.name}: letting earlier payments finish first (a killed sandbox forgets them)`);
      await Promise.all(loads);
      await drained(stack.temporalAddress, orderPrefix, 60_000);
    }
    const sandboxBefore = await sandbox.counters();
    say(`phase ${i + 1}/${FAULTS.length}: ${fault.name}`);
    let phaseEnd = Date.now() + config.phaseSeconds * 1000;
    const startLoad = () =>
      loads.push(
        runOpenLoop(
          { rate: config.rate, durationMs: config.phaseSeconds * 1000, graceMs: 60_000 },
          phaseFire(api, load, policy, clock, records),
        ),
      );
    if (!fault.quiesce) {
      startLoad();
      await sleep(config.injectAtSeconds * 1000);
    }
    const injectedAt = clock();
    try {
      await withTimeout(fault.inject(context), 90_000, fault.name);
    } catch (error) {
      injectErrors.set(fault.name, String(error));
      say(`${fault.name}: ${String(error)}`);
    }
    const recovered = clock();
    if (fault.outage) outages.push({ from: injectedAt, to: recovered + config.outageGraceSeconds * 1000 });
    say(
      `${fault.name}: injected at +${(injectedAt / 1000).toFixed(1)}s, back after ${recovered - injectedAt} ms`,
    );
    if (fault.quiesce) {
      phaseEnd = Date.now() + config.phaseSeconds * 1000;
      startLoad();
    }
    await sleep(Math.max(0, phaseEnd - Date.now()));
    await fault
      .clear?.(context)
      .catch((error: unknown) => say(`${fault.name}: clear failed: ${String(error)}`));
    const sandboxShare = difference(await sandbox.counters(), sandboxBefore);
    phases.push({ fault: fault.name, records, injectedAt, recovered, sandbox: sandboxShare });
    await waitReady(stack.apiUrl, 30_000);
  }
  say('load sent; waiting for the last answers');
  await Promise.all(loads);

  const all = phases.flatMap((p) => p.records);
  report.requests = all;
  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  pool.on('error', () => undefined); // an idle client dropped by a restart is replaced on next use
  try {
    say(`settling (at most ${config.settleSeconds} s)`);
    const temporalAddress = stack.temporalAddress;
    const { world, waitedMs } = await settle(
      all,
      async () => readWorld(pool, TENANT, orderPrefix, await sandbox.charges(), temporalAddress),
      config.settleSeconds * 1000,
    );
    report.settle = { waitedS: Math.round(waitedMs / 1000), windowS: config.settleSeconds };
    for (const phase of phases) {
      const injectError = injectErrors.get(phase.fault);
      report.phases.push({
        ...checkPhase(phase.fault, phase.records, world, outages),
        injectedAtS: Math.round(phase.injectedAt / 100) / 10,
        recoveredAfterS: Math.round((phase.recovered - phase.injectedAt) / 100) / 10,
        sandbox: phase.sandbox,
        ...(injectError ? { injectError } : {}),
      });
    }
  } finally {
    await pool.end();
  }
  const verify = await call(api, 'GET', '/v1/ledger/verify', undefined, { admin: true }).catch(
    (error: unknown) => ({ status: 0, body: String(error) }),
  );
  report.ledger = { ok: verify.status === 200 && verify.body?.ok === true, detail: verify.body };
  report.ok = report.ledger.ok && report.phases.every((p) => !failed(p) && !p.injectError);
}

const report: ChaosReport = {
  runId,
  mode: quick ? 'quick' : 'full',
  seed,
  startedAt: startedAt.toISOString(),
  elapsedS: 0,
  config: { ...config, policy },
  phases: [],
  settle: { waitedS: 0, windowS: config.settleSeconds },
  ledger: { ok: false, detail: 'not checked' },
  supervisorLog: [],
  requests: [],
  ok: false,
};
try {
  await main(report);
} catch (error) {
  report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  say(`failed: ${report.error}`);
} finally {
  clearTimeout(overall);
  await cleanup();
}
report.elapsedS = Math.round(clock() / 1000);
const file = await writeReport(RESULTS_DIR, report);
console.log(`\n${renderTable(report)}\n`);
say(`results in ${path.relative(process.cwd(), file)}`);
process.exit(report.ok ? 0 : 1);
