/**
 * `npm run bench`: brings up the stack the way `npm run dev` does (Temporal on a file database in
 * a temp folder) or targets a running one (BENCH_API_URL ...), drives each scenario open-loop at
 * stepped rates until it breaks, checks that every accepted payment settled and the ledger is
 * clean, measures the engine and database floors at the same rates, and writes the results.
 * See bench/README.md.
 */
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';
import { startStack, type Stack } from '../src/infra/stack.js';
import { call, type ApiTarget } from './api.js';
import { checkStep, mergeCorrectness, type Correctness } from './correctness.js';
import { databaseFloor, engineFloor } from './floors.js';
import { kneeOf, runOpenLoop, stepUntilKnee, type StepResult } from './load.js';
import {
  computeRatios,
  DATABASE_FLOOR,
  ENGINE_FLOOR,
  renderReport,
  writeReport,
  type BenchReport,
  type ScenarioResult,
} from './report.js';
import { createScenarios, warmUp, type Scenario } from './scenarios.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const ALL_SCENARIOS = ['wallet', 'card', 'split', 'refund', ENGINE_FLOOR, DATABASE_FLOOR];
const startedAt = new Date();
const runId = `${startedAt.getTime().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const say = (line: string) =>
  console.log(`[bench +${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)}s] ${line}`);

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function readConfig() {
  const stepSeconds = positive('BENCH_STEP_SECONDS', 10);
  const explicitRates = process.env.BENCH_RATES?.trim();
  const maxRate = positive('BENCH_MAX_RATE', explicitRates ? 1000 : 80);
  const rates = (
    explicitRates
      ? explicitRates.split(',').map((r) => Number(r.trim()))
      : [2.5, 5, 10, 20, 40, 80, 160, 320, 640].filter((r) => r <= maxRate)
  ).filter((r) => r <= maxRate);
  if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0 || r > 1000))
    throw new Error('BENCH_RATES must be rates between 0 and 1000 req/s, at most BENCH_MAX_RATE');
  rates.sort((a, b) => a - b);
  const scenarios = (process.env.BENCH_SCENARIOS ?? ALL_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scenarios.filter((s) => !ALL_SCENARIOS.includes(s));
  if (unknown.length)
    throw new Error(`unknown BENCH_SCENARIOS ${unknown.join(', ')}; known: ${ALL_SCENARIOS.join(', ')}`);
  return {
    stepSeconds,
    rates,
    scenarios,
    graceSeconds: positive('BENCH_GRACE_SECONDS', 15),
    settleSeconds: positive('BENCH_SETTLE_SECONDS', 60),
    maxMinutes: positive('BENCH_MAX_MINUTES', 15),
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
    tenantId: process.env.BENCH_TENANT ?? 'default',
  };
}

interface Target {
  apiUrl: string;
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
      gatewayUrl: process.env.BENCH_GATEWAY_URL,
      databaseUrl,
      temporalAddress: process.env.BENCH_TEMPORAL_ADDRESS,
      namespace,
      started: false,
    };
    assertLocal(target.apiUrl, 'BENCH_API_URL');
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
    `starting the stack (PostgreSQL, Temporal on a file database, gateway, worker, API); log in ${logPath}`,
  );
  stack = await startStack({
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: false,
    temporalDbFile: path.join(tempDir, 'temporal', 'temporal.db'),
    env: { LOG_LEVEL: config.logLevel },
    log: (line) => logFile.write(`${line}\n`),
    onChildExit: (name, code) => say(`!! ${name} exited with code ${code} during the run`),
  });
  return {
    apiUrl: stack.apiUrl,
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
        const count = Math.max(1, Math.round(rate * config.stepSeconds));
        const prepared = await scenario.prepare({ tag: `${runId}-${scenario.name}-${rate}`, count });
        const { result: step, samples } = await runOpenLoop(
          { rate, durationMs: config.stepSeconds * 1000, graceMs: config.graceSeconds * 1000 },
          prepared.fire,
        );
        result.steps.push(step);
        const check = await checkStep(
          pool,
          config.tenantId,
          samples,
          prepared.orderId,
          prepared.expect,
          config.settleSeconds * 1000,
        );
        checks.push(check);
        if (!check.ok) say(`${scenario.name} @${rate}/s correctness FAILED: ${check.examples.join('; ')}`);
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

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

async function runFloor(name: string, run: () => Promise<StepResult[]>): Promise<ScenarioResult> {
  say(`${name}: starting`);
  try {
    const steps = await run();
    return { name, kind: 'floor', status: 'ran', steps, kneeRate: kneeOf(steps)?.offeredRate };
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
    apiKey: process.env.BENCH_API_KEY ?? DEV_API_KEY,
    adminKey: process.env.BENCH_ADMIN_KEY ?? DEV_ADMIN_KEY,
  };
  say(
    `target API ${target.apiUrl}, Temporal ${target.temporalAddress ?? '-'}, ${target.started ? 'started here' : 'external'}`,
  );
  await setGatewayLatency(target);
  const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 4 });
  const results: ScenarioResult[] = [];
  let ledger: BenchReport['ledger'];
  try {
    const scenarios = createScenarios(api).filter((s) => config.scenarios.includes(s.name));
    if (scenarios.length) {
      say('warming up (untimed)');
      await warmUp(api, `${runId}-warmup`);
    }
    for (const scenario of scenarios) results.push(await runScenario(scenario, api, pool));

    // The floors run at the rates Paysaga reached, so every Paysaga step has a counterpart.
    const reached = Math.max(0, ...results.flatMap((r) => r.steps.map((s) => s.offeredRate)));
    const floorRates = reached > 0 ? config.rates.filter((r) => r <= reached) : config.rates;
    const plan = { durationMs: config.stepSeconds * 1000, graceMs: config.graceSeconds * 1000 };
    const floorLog = (name: string) => (line: string) => say(`${name} ${line}`);
    if (config.scenarios.includes(ENGINE_FLOOR)) {
      const { temporalAddress } = target;
      results.push(
        temporalAddress
          ? await runFloor(ENGINE_FLOOR, () =>
              engineFloor({
                runId,
                rates: floorRates,
                plan,
                log: floorLog(ENGINE_FLOOR),
                temporalAddress,
                namespace: target.namespace,
              }),
            )
          : {
              name: ENGINE_FLOOR,
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
        await runFloor(DATABASE_FLOOR, () =>
          databaseFloor({
            runId,
            rates: floorRates,
            plan,
            log: floorLog(DATABASE_FLOOR),
            databaseUrl: target.databaseUrl,
          }),
        ),
      );
    }

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
