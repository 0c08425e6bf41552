/**
 * `npm run bench`: brings up the stack the way `npm run dev` does (Temporal on a file database in
 * a temp folder) or targets a running one (BENCH_API_URL ...), drives each scenario open-loop at
 * stepped rates until it breaks, checks that every accepted payment settled and the ledger is
 * clean, steps the engine floors (no-op workflow, one-activity workflow) to their own knee and the
 * database floor at Paysaga's rates, samples each stack process's CPU and memory per step, and
 * writes the results.
 * See bench/README.md.
 */
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';
import { freePort, SCRIPTS, startStack, type Stack } from '../tools/stack/stack.js';
import { call, type ApiTarget } from './api.js';
import { capacityModel, compareWithFloors } from './compare.js';
import { readConfig } from './config.js';
import { checkStep, mergeCorrectness, type Correctness } from './correctness.js';
import { databaseFloor } from './db-floor.js';
import { engineFloor, type EngineFloorName, type FloorRun } from './floors.js';
import { describeStep, kneeOf, runOpenLoop, stepUntilKnee, type StepResult } from './load.js';
import {
  ACTIVITY_FLOOR,
  computeRatios,
  DATABASE_FLOOR,
  ENGINE_FLOOR,
  renderReport,
  writeReport,
  type BenchReport,
  type ScenarioResult,
} from './report.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMeter, describeResources, stackRoots, type Meter, type StepResources } from './resources.js';
import { createScenarios, warmUp, type Scenario } from './scenarios.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const PROFILES_DIR = path.join(RESULTS_DIR, 'profiles');
const startedAt = new Date();
const runId = `${startedAt.getTime().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const say = (line: string) =>
  console.log(`[bench +${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)}s] ${line}`);

interface Target {
  apiUrl: string;
  /** The API processes started here (BENCH_APIS), the first one's `apiUrl` included. */
  apiUrls: string[];
  gatewayUrl: string | undefined;
  databaseUrl: string;
  temporalAddress: string | undefined;
  namespace: string;
  started: boolean;
}

function assertLocal(url: string, name: string): void {
  const host = new URL(url.includes('://') ? url : `tcp://${url}`).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host))
    throw new Error(`${name} must point at this machine (127.0.0.1), got ${url}`);
}

const config = readConfig();
let stack: Stack | undefined;
let meter: Meter | undefined;
let tempDir: string | undefined;
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await stack?.stop().catch(() => undefined);
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}
const overall = setTimeout(() => {
  say(`still running after BENCH_MAX_MINUTES=${config.maxMinutes}: giving up`);
  void cleanup().then(() => process.exit(2));
}, config.maxMinutes * 60_000);

async function resolveTarget(): Promise<Target> {
  const namespace = process.env.BENCH_TEMPORAL_NAMESPACE ?? 'default';
  const apiUrl = process.env.BENCH_API_URL;
  if (apiUrl) {
    const databaseUrl = process.env.BENCH_DATABASE_URL;
    if (!databaseUrl) throw new Error('BENCH_API_URL needs BENCH_DATABASE_URL (for the correctness check)');
    const target: Target = {
      apiUrl: apiUrl.replace(/\/$/, ''),
      apiUrls: [apiUrl.replace(/\/$/, '')],
      gatewayUrl: process.env.BENCH_GATEWAY_URL,
      databaseUrl,
      temporalAddress: process.env.BENCH_TEMPORAL_ADDRESS,
      namespace,
      started: false,
    };
    assertLocal(target.apiUrl, 'BENCH_API_URL');
    if (config.workers > 1) say('BENCH_WORKERS is ignored against an external stack');
    if (config.apis > 1) say('BENCH_APIS is ignored against an external stack');
    if (target.gatewayUrl) assertLocal(target.gatewayUrl, 'BENCH_GATEWAY_URL');
    if (target.temporalAddress) assertLocal(target.temporalAddress, 'BENCH_TEMPORAL_ADDRESS');
    return target;
  }
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'paysaga-bench-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logPath = path.join(RESULTS_DIR, 'stack.log');
  const logFile = createWriteStream(logPath);
  say(
    `starting the stack (PostgreSQL, Temporal on a file database, gateway, ${config.colocated ? 'API and worker in one process' : 'worker, API'}); log in ${logPath}`,
  );
  const postgresDir = path.join(tempDir, 'postgres');
  if (config.profile.length)
    say(
      `CPU profiles of ${config.profile.join(', ')} go to ${PROFILES_DIR} when the run ends (npm run bench:profile to read them)`,
    );
  stack = await startStack({
    postgresDir,
    persistentPostgres: false,
    temporalDbFile: path.join(tempDir, 'temporal', 'temporal.db'),
    // One key sends all of the load: the rate limiter is not what this measures.
    env: { RATE_LIMIT_MAX: '1000000000', RATE_LIMIT_ANONYMOUS_MAX: '1000000000', LOG_LEVEL: config.logLevel },
    // V8 writes each profile when its process exits, at the end of the run.
    nodeFlags: Object.fromEntries(
      config.profile.map((name) => [name, ['--cpu-prof', `--cpu-prof-dir=${PROFILES_DIR}`]]),
    ),
    log: (line) => logFile.write(`${line}\n`),
    onChildExit: (name, code) => say(`!! ${name} exited with code ${code} during the run`),
    // BENCH_WORKERS and BENCH_APIS say how many (below), whichever the engine.
    replicas: 1,
    colocated: config.colocated,
  });
  const apiUrls = [stack.apiUrl];
  if (config.colocated) {
    // Each co-located process is an API and a worker: as many as the larger of the two counts.
    for (let i = 2; i <= Math.max(config.workers, config.apis); i++) {
      const port = await freePort();
      say(`starting app-${i} (API and worker) on port ${port}; requests go to each in turn`);
      await stack.spawnProcess(`app-${i}`, SCRIPTS.app, {
        PORT: String(port),
        METRICS_PORT: String(await freePort()),
      });
      apiUrls.push(`http://127.0.0.1:${port}`);
    }
  } else {
    for (let i = 2; i <= config.workers; i++) {
      say(`starting worker-${i} (BENCH_WORKERS=${config.workers})`);
      await stack.spawnProcess(`worker-${i}`, SCRIPTS.worker);
    }
    for (let i = 2; i <= config.apis; i++) {
      const port = await freePort();
      say(`starting api-${i} on port ${port} (BENCH_APIS=${config.apis}); requests go to each API in turn`);
      await stack.spawnProcess(`api-${i}`, SCRIPTS.api, { PORT: String(port) });
      apiUrls.push(`http://127.0.0.1:${port}`);
    }
  }
  const { processes } = stack;
  meter = createMeter(() => stackRoots(processes, postgresDir));
  return {
    apiUrl: stack.apiUrl,
    apiUrls,
    gatewayUrl: stack.gatewayUrl,
    databaseUrl: stack.databaseUrl,
    temporalAddress: stack.temporalAddress,
    namespace,
    started: true,
  };
}

async function setGatewayLatency(target: Target): Promise<void> {
  if (!target.gatewayUrl) return say('no BENCH_GATEWAY_URL: leaving the sandbox gateway faults as they are');
  const post = (route: string, body?: unknown) =>
    fetch(`${target.gatewayUrl}/_sandbox/${route}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
  if (target.started) await post('reset');
  const response = await post('faults', { latencyMs: 0 });
  if (!response.ok) throw new Error(`sandbox /_sandbox/faults answered ${response.status}`);
}

async function runScenario(scenario: Scenario, api: ApiTarget, pool: pg.Pool): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    name: scenario.name,
    kind: 'paysaga',
    status: 'ran',
    steps: [],
    kneeRate: undefined,
  };
  const skip = await scenario.unavailable?.();
  if (skip) {
    say(`${scenario.name}: skipped (${skip})`);
    return { ...result, status: 'skipped', note: skip };
  }
  const checks: Correctness[] = [];
  try {
    await stepUntilKnee(
      config.rates,
      async (rate): Promise<StepResult> => {
        const { step, check } = await scenarioStep(scenario, rate, pool, config.settleSeconds * 1000);
        result.steps.push(step);
        checks.push(check);
        return step;
      },
      (line) => say(`${scenario.name} ${line}`),
    );
  } catch (error) {
    say(`${scenario.name}: failed: ${String(error)}`);
    result.status = 'failed';
    result.note = firstLine(error);
  }
  result.kneeRate = kneeOf(result.steps)?.offeredRate;
  result.correctness = mergeCorrectness(checks);
  return result;
}

/** One open-loop step of a scenario (untimed preparation first), then its correctness check. */
async function scenarioStep(scenario: Scenario, rate: number, pool: pg.Pool, settleMs: number) {
  const count = Math.max(1, Math.round(rate * config.stepSeconds));
  const prepared = await scenario.prepare({ tag: `${runId}-${scenario.name}-${rate}`, count });
  say(`${scenario.name} ${rate}/s: prepared, sending for ${config.stepSeconds} s`);
  const { result: step, samples } = await runOpenLoop(
    { rate, durationMs: config.stepSeconds * 1000, graceMs: config.graceSeconds * 1000 },
    prepared.fire,
    meter,
  );
  const check = await checkStep(pool, config.tenantId, samples, prepared.orderId, prepared.expect, settleMs);
  if (!check.ok) say(`${scenario.name} @${rate}/s correctness FAILED: ${check.examples.join('; ')}`);
  return { step, check };
}

/**
 * The wallet at half the no-op floor's knee rate, when its ladder had no step there: run last, as
 * it may be far past the wallet's own knee; the backlog gets time to settle in proportion to it.
 */
async function walletAtHalfKnee(results: ScenarioResult[], scenario: Scenario | undefined, pool: pg.Pool) {
  const wallet = results.find((r) => r.name === 'wallet' && r.status === 'ran');
  const floor = results.find((r) => r.name === ENGINE_FLOOR);
  const floorKnee = floor && kneeOf(floor.steps)?.offeredRate;
  if (!scenario || !wallet || floorKnee === undefined) return;
  const rate = floorKnee / 2;
  if (wallet.steps.some((s) => s.offeredRate === rate)) return;
  const peak = Math.max(0.5, ...wallet.steps.map((s) => s.throughput));
  const backlogS = (rate * config.stepSeconds) / peak;
  const settleMs = Math.min(600, Math.max(config.settleSeconds, 1.5 * backlogS + 10)) * 1000;
  say(`wallet at half the engine floor's knee (${rate}/s), settle window ${Math.round(settleMs / 1000)} s`);
  try {
    const { step, check } = await scenarioStep(scenario, rate, pool, settleMs);
    say(`wallet (half the floor's knee) ${describeStep(step)}`);
    wallet.extraSteps = [step];
    wallet.correctness = mergeCorrectness([...(wallet.correctness ? [wallet.correctness] : []), check]);
  } catch (error) {
    say(`wallet at ${rate}/s: failed: ${String(error)}`);
    wallet.note = `half-knee step failed: ${firstLine(error)}`;
  }
}

/** What the stack burns doing nothing (pollers, timers), so the capacity model can set it apart. */
async function measureIdle(): Promise<StepResources | undefined> {
  if (!meter) return undefined;
  const probe = meter.start();
  await sleep(config.idleSeconds * 1000);
  const idle = probe.stop(0);
  const usage = describeResources(idle);
  if (usage) say(`idle for ${config.idleSeconds} s:\n${usage}`);
  return idle;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

async function runFloor(name: string, run: () => Promise<FloorRun>): Promise<ScenarioResult> {
  say(`${name}: starting`);
  try {
    const { steps, extraSteps } = await run();
    return { name, kind: 'floor', status: 'ran', steps, extraSteps, kneeRate: kneeOf(steps)?.offeredRate };
  } catch (error) {
    say(`${name}: failed: ${String(error)}`);
    return { name, kind: 'floor', status: 'failed', note: firstLine(error), steps: [], kneeRate: undefined };
  }
}

async function main(): Promise<boolean> {
  say(
    `run ${runId}: scenarios ${config.scenarios.join(',')}; rates ${config.rates.join(',')}/s; ` +
      `${config.stepSeconds} s per step`,
  );
  const target = await resolveTarget();
  const api: ApiTarget = {
    apiUrl: target.apiUrl,
    apiUrls: target.apiUrls,
    apiKey: process.env.BENCH_API_KEY ?? DEV_API_KEY,
    adminKey: process.env.BENCH_ADMIN_KEY ?? DEV_ADMIN_KEY,
  };
  say(
    `target API ${target.apiUrl}, Temporal ${target.temporalAddress ?? '-'}, ${target.started ? 'started here' : 'external'}`,
  );
  await setGatewayLatency(target);
  const processes = meter?.describe() ?? {};
  say(`measuring processes (root pids): ${JSON.stringify(processes)}`);
  const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 4 });
  const results: ScenarioResult[] = [];
  let idle: StepResources | undefined;
  let ledger: BenchReport['ledger'];
  try {
    const scenarios = createScenarios(api).filter((s) => config.scenarios.includes(s.name));
    if (scenarios.length) {
      say('warming up (untimed)');
      await warmUp(api, `${runId}-warmup`);
    }
    idle = await measureIdle();
    for (const scenario of scenarios) results.push(await runScenario(scenario, api, pool));

    // The engine floors step up their own ladder (Paysaga's rates, then doubling) until they break;
    // the database floor runs at the rates Paysaga reached, so every Paysaga step has a counterpart.
    const reached = Math.max(0, ...results.flatMap((r) => r.steps.map((s) => s.offeredRate)));
    const dbRates = reached > 0 ? config.rates.filter((r) => r <= reached) : config.rates;
    const plan = { durationMs: config.stepSeconds * 1000, graceMs: config.graceSeconds * 1000 };
    const common = (name: string) => ({ runId, plan, meter, log: (line: string) => say(`${name} ${line}`) });
    for (const name of [ENGINE_FLOOR, ACTIVITY_FLOOR] as EngineFloorName[]) {
      if (!config.scenarios.includes(name)) continue;
      const { temporalAddress, namespace } = target;
      results.push(
        temporalAddress
          ? await runFloor(name, () =>
              engineFloor(name, { ...common(name), rates: config.floorRates, temporalAddress, namespace }),
            )
          : {
              name,
              kind: 'floor',
              status: 'skipped',
              note: 'no BENCH_TEMPORAL_ADDRESS',
              steps: [],
              kneeRate: undefined,
            },
      );
    }
    if (config.scenarios.includes(DATABASE_FLOOR)) {
      results.push(
        await runFloor(DATABASE_FLOOR, async () => ({
          steps: await databaseFloor({
            ...common(DATABASE_FLOOR),
            rates: dbRates,
            databaseUrl: target.databaseUrl,
          }),
          extraSteps: [],
        })),
      );
    }
    await walletAtHalfKnee(
      results,
      scenarios.find((s) => s.name === 'wallet'),
      pool,
    );

    const verify = await call(api, 'GET', '/v1/ledger/verify', undefined, { admin: true }).catch(
      (error: unknown) => ({ status: 0, body: { error: String(error) } }),
    );
    ledger =
      verify.status === 200
        ? { ok: verify.body?.ok === true, violations: verify.body?.violations }
        : {
            ok: false,
            error: `GET /v1/ledger/verify answered ${verify.status} ${JSON.stringify(verify.body)}`,
          };
  } finally {
    await pool.end();
  }

  const finishedAt = new Date();
  const report: BenchReport = {
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    elapsedS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    config,
    target: {
      apiUrl: target.apiUrl,
      temporalAddress: target.temporalAddress ?? '',
      mode: target.started ? 'started (temporal file db in a temp dir)' : 'external',
    },
    scenarios: results,
    ratios: computeRatios(results),
    floorComparison: compareWithFloors(results, [ENGINE_FLOOR, ACTIVITY_FLOOR]),
    idle,
    capacity: capacityModel(results, idle),
    processes,
    ledger,
    ok: ledger.ok && results.every((r) => r.correctness?.ok ?? true),
  };
  const file = await writeReport(RESULTS_DIR, report);
  console.log(`\n${renderReport(report)}\n`);
  say(`results in ${path.relative(process.cwd(), file)} and bench/results/latest.json`);
  return report.ok;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.error('[bench] failed:', error);
} finally {
  clearTimeout(overall);
  await cleanup();
}
process.exit(ok ? 0 : 1);
