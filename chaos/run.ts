/**
 * `npm run chaos` (`-- --quick` or CHAOS_QUICK=1 for CI): starts a supervised stack on free ports
 * with persistent data in a temp folder, publishing to Kafka and RabbitMQ when the machine runs
 * them, funds wallets, registers webhook endpoints (one that answers for the load's tenant, the
 * cap of failing ones for a second tenant whose payments trickle in), then runs open-loop payment
 * load while it injects one fault per phase (crashes of each component, gateway faults, the second
 * tenant's surge, a broker down). After a settle window it checks that nothing accepted was lost,
 * nothing was charged twice, nothing is stuck and every event reached every sink, prints a table,
 * writes chaos/results/, and exits 0 only when every phase is clean. See chaos/README.md.
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
import { brokerSinks } from '../src/domain/sinks.js';
import { BROKER_LABELS, brokersHere } from '../tools/stack/brokers-here.js';
import { takeOverShutdownSignals } from '../tools/stack/embedded-postgres.js';
import { colocated, startStack, type Stack } from '../tools/stack/stack.js';
import {
  checkPhase,
  failed,
  HOLD_GRACE_MS,
  readWorld,
  runningOrders,
  settle,
  type SinkOutage,
} from './checks.js';
import type { RequestRecord, RetryPolicy } from './client.js';
import {
  chaosFaults,
  DEFAULT_MIX,
  Sandbox,
  type FaultContext,
  type Mix,
  type SandboxCounters,
} from './faults.js';
import { phaseFire, seededRandom } from './load.js';
import { renderTable, writeReport, type ChaosReport, type RelayLag } from './report.js';
import { NOISY_ENDPOINTS, NOISY_TENANT, noisyDeliveries, Sinks } from './sinks.js';

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
  maxMinutes: quick ? 7 : 18,
  /** The noisy tenant's wallet payments per second, in every phase but its own surge. */
  noisyRate: 0.1,
  noisyCustomers: 2,
};
const NOISY_MIX: Mix = { wallet: 1, card: 0, threeDs: 0 };
const policy: RetryPolicy = { maxAttempts: 12, attemptTimeoutMs: 25_000, maxDelayMs: 5_000 };
const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(seed);
const startedAt = new Date();
const runId = `${startedAt.getTime().toString(36)}${Math.floor(random() * 1e4)}`;
const clock = () => Date.now() - startedAt.getTime();
const say = (line: string) => console.log(`[chaos +${(clock() / 1000).toFixed(1)}s] ${line}`);

let stack: Stack | undefined;
let sinks: Sinks | undefined;
let pool: pg.Pool | undefined;
/** Undoes the fault injected last until its phase clears it (a broker left hanging would not stop). */
let undoFault: (() => Promise<void>) | undefined;
let tempDir: string | undefined;
let cleaned: Promise<void> | undefined;
// Stopped while still starting: startStack stops what it started, then rejects.
const starting = new AbortController();
let startup: Promise<unknown> = Promise.resolve();
const cleanup = () =>
  (cleaned ??= (async () => {
    starting.abort(new Error('stopped while starting'));
    await startup.catch(() => undefined);
    await undoFault?.().catch(() => undefined);
    await sinks?.close();
    await pool?.end().catch(() => undefined);
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
    const found = await runningOrders(temporalAddress, TENANT, orderPrefix).catch(() => undefined);
    if (found?.running.size === 0) return;
    await sleep(1000);
  }
  say(`payments still running after ${ms / 1000} s; going on`);
}

/** The relay's lag per sink as `/readyz` shows it (undefined when the API does not answer). */
async function relayLag(apiUrl: string): Promise<RelayLag | undefined> {
  const response = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(
    () => undefined,
  );
  const body = (await response?.json().catch(() => undefined)) as
    { dependencies?: { relay?: RelayLag } } | undefined;
  return body?.dependencies?.relay;
}

async function main(report: ChaosReport): Promise<void> {
  const here = brokersHere();
  for (const { broker, needs } of here.missing)
    say(`skipping the ${BROKER_LABELS[broker]} sink and its phase: it needs ${needs}`);
  const brokers = brokerSinks(here.sinks);
  const faults = chaosFaults(colocated({})).filter(
    (fault) => !fault.broker || brokers.includes(fault.broker),
  );
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
    env: {
      // One key sends all of the load: the rate limiter is not what this measures.
      RATE_LIMIT_MAX: '1000000000',
      RATE_LIMIT_ANONYMOUS_MAX: '1000000000',
      LOG_LEVEL: 'warn',
      SYNC_WAIT_MS: '5000',
      EVENT_SINKS: here.sinks.join(','),
      API_KEYS: `${DEV_API_KEY}:${TENANT},${NOISY_TENANT.apiKey}:${NOISY_TENANT.tenant}`,
      // The checks wait for every payment's workflow to end: a decline ends it at once instead of
      // leaving it open for another attempt for a day.
      SINGLE_ATTEMPT_TENANTS: `${TENANT},${NOISY_TENANT.tenant}`,
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
  const noisyApi: ApiTarget = { ...api, apiKey: NOISY_TENANT.apiKey };
  const sandbox = new Sandbox(stack.gatewayUrl);
  const db = (pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 }));
  db.on('error', () => undefined); // an idle client dropped by a restart is replaced on next use
  const context: FaultContext = { stack, sandbox, pool: db };

  const watched = (sinks = new Sinks(stack, brokers));
  await watched.start();
  await watched.register(api, noisyApi);
  const readKafka = () =>
    watched.readKafka().catch((error: unknown) => say(`reading Kafka failed: ${String(error)}`));
  say(
    `events go to webhooks${brokers.map((b) => `, ${BROKER_LABELS[b]}`).join('')}; tenant ${NOISY_TENANT.tenant} has ${NOISY_ENDPOINTS} endpoints answering 500`,
  );

  const customers = Array.from({ length: config.customers }, (_, i) => `cus-chaos-${runId}-${i}`);
  const noisyCustomers = Array.from({ length: config.noisyCustomers }, (_, i) => `cus-noisy-${runId}-${i}`);
  say(`funding ${customers.length + noisyCustomers.length} wallets`);
  await mapLimit(customers, 4, (customer) => topUp(api, customer, 500_000));
  await mapLimit(noisyCustomers, 2, (customer) => topUp(noisyApi, customer, 500_000));
  const noisyRecords: RequestRecord[] = [];
  // A stream of its own, so the noisy tenant's requests leave the load's mix as CHAOS_SEED replays it.
  const noisyRandom = seededRandom(seed ^ 0x5eed);

  const orderPrefix = `chaos-${runId}`;
  const phases: {
    fault: string;
    records: RequestRecord[];
    injectedAt: number;
    recovered: number;
    cleared: number;
    sandbox: SandboxCounters;
    relayAtEnd?: RelayLag;
  }[] = [];
  const outages: { from: number; to: number }[] = [];
  const loads: Promise<unknown>[] = [];
  const injectErrors = new Map<string, string>();
  for (const [i, fault] of faults.entries()) {
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
    say(`phase ${i + 1}/${faults.length}: ${fault.name}`);
    const phaseMs = Math.max(config.phaseSeconds, fault.minSeconds ?? 0) * 1000;
    let phaseEnd = Date.now() + phaseMs;
    const noisyLoad = {
      ...load,
      orderPrefix: `noisy-${runId}-${i}`,
      mix: NOISY_MIX,
      customers: noisyCustomers,
      repeatShare: 0,
      random: noisyRandom,
    };
    const startLoad = () =>
      loads.push(
        runOpenLoop(
          { rate: config.rate, durationMs: phaseMs, graceMs: 60_000 },
          phaseFire(api, load, policy, clock, records),
        ),
        runOpenLoop(
          { rate: fault.noisyRate ?? config.noisyRate, durationMs: phaseMs, graceMs: 60_000 },
          phaseFire(noisyApi, noisyLoad, policy, clock, noisyRecords),
        ),
      );
    if (!fault.quiesce) {
      startLoad();
      await sleep(config.injectAtSeconds * 1000);
    }
    const injectedAt = clock();
    undoFault = fault.clear && (() => fault.clear!(context));
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
      phaseEnd = Date.now() + phaseMs;
      startLoad();
    }
    await sleep(Math.max(0, phaseEnd - Date.now()));
    // What the relay owes each sink as the broker comes back: its backlog shows it was held.
    const relayAtEnd = fault.broker ? await relayLag(stack.apiUrl) : undefined;
    await fault
      .clear?.(context)
      .catch((error: unknown) => say(`${fault.name}: clear failed: ${String(error)}`));
    undoFault = undefined;
    const cleared = clock();
    if (fault.broker === 'kafka') await readKafka();
    const sandboxShare = difference(await sandbox.counters(), sandboxBefore);
    phases.push({
      fault: fault.name,
      records,
      injectedAt,
      recovered,
      cleared,
      sandbox: sandboxShare,
      ...(relayAtEnd ? { relayAtEnd } : {}),
    });
    await waitReady(stack.apiUrl, 30_000);
  }
  say('load sent; waiting for the last answers');
  await Promise.all(loads);
  await readKafka();
  const all = phases.flatMap((p) => p.records);
  report.requests = all;
  say(`settling (at most ${config.settleSeconds} s)`);
  const temporalAddress = stack.temporalAddress;
  const { world, waitedMs } = await settle(
    all,
    async () => readWorld(db, TENANT, orderPrefix, await sandbox.charges(), temporalAddress),
    () => watched.arrivals(),
    config.settleSeconds * 1000,
  );
  report.settle = { waitedS: Math.round(waitedMs / 1000), windowS: config.settleSeconds };
  if (world.staleVisibility.size > 0)
    say(
      `visibility still listed ${world.staleVisibility.size} closed payment workflows as running (e.g. ${[...world.staleVisibility][0]})`,
    );
  const arrivals = watched.arrivals();
  for (const phase of phases) {
    const fault = faults.find((f) => f.name === phase.fault)!;
    const sinkOutage: SinkOutage | undefined = fault.broker && {
      broker: fault.broker,
      from: startedAt.getTime() + phase.injectedAt,
      to: startedAt.getTime() + phase.cleared,
    };
    const check = checkPhase(phase.fault, phase.records, world, outages, arrivals, sinkOutage);
    // Isolation is shown only by payments that ended early enough in the outage to be judged.
    const notShown =
      check.isolation && check.isolation.judged === 0
        ? `no payment ended at least ${HOLD_GRACE_MS / 1000} s before ${fault.broker} came back: isolation not shown`
        : undefined;
    const injectError = injectErrors.get(phase.fault) ?? notShown;
    report.phases.push({
      ...check,
      injectedAtS: Math.round(phase.injectedAt / 100) / 10,
      recoveredAfterS: Math.round((phase.recovered - phase.injectedAt) / 100) / 10,
      sandbox: phase.sandbox,
      ...(phase.relayAtEnd ? { relayAtEnd: phase.relayAtEnd } : {}),
      ...(injectError ? { injectError } : {}),
    });
  }
  report.noisy = {
    tenant: NOISY_TENANT.tenant,
    endpoints: NOISY_ENDPOINTS,
    payments: noisyRecords.length,
    accepted: noisyRecords.filter((r) => r.accepted).length,
    deliveries: await noisyDeliveries(db),
  };
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
