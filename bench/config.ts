/** The run's configuration from the BENCH_* environment (see bench/README.md, Knobs). */
import { colocated, temporalEngine } from '../tools/stack/stack.js';
import { ACTIVITY_FLOOR, DATABASE_FLOOR, ENGINE_FLOOR } from './report.js';

export const ALL_SCENARIOS = [
  'wallet',
  'card',
  'split',
  'refund',
  ENGINE_FLOOR,
  ACTIVITY_FLOOR,
  DATABASE_FLOOR,
];

/** Processes of the started stack that BENCH_PROFILE can run under `node --cpu-prof`. */
export const PROFILABLE = ['worker', 'api', 'app', 'gateway'];

export type BenchConfig = ReturnType<typeof readConfig>;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

export function readConfig() {
  const stepSeconds = positive('BENCH_STEP_SECONDS', 10);
  const explicitRates = process.env.BENCH_RATES?.trim();
  const maxRate = positive('BENCH_MAX_RATE', explicitRates ? 1000 : 80);
  const rates = (
    explicitRates
      ? explicitRates.split(',').map((r) => Number(r.trim()))
      : // 10/s apart where a 2-core machine's knees are, so a knee is known to within 10/s.
        [5, 10, 20, 30, 40, 50, 60, 70, 80].filter((r) => r <= maxRate)
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
  const workers = positive('BENCH_WORKERS', 1);
  if (!Number.isInteger(workers) || workers > 8)
    throw new Error('BENCH_WORKERS must be an integer from 1 to 8');
  const apis = positive('BENCH_APIS', 1);
  if (!Number.isInteger(apis) || apis > 8) throw new Error('BENCH_APIS must be an integer from 1 to 8');
  const profile = (process.env.BENCH_PROFILE ?? '')
    .split(',')
    .map((each) => each.trim())
    .filter(Boolean);
  const unprofilable = profile.filter((each) => !PROFILABLE.includes(each));
  if (unprofilable.length)
    throw new Error(`BENCH_PROFILE names ${unprofilable.join(', ')}; known: ${PROFILABLE.join(', ')}`);
  // The engine floors go on doubling past Paysaga's rates until they break.
  const floorMaxRate = Math.min(1000, positive('BENCH_FLOOR_MAX_RATE', 640));
  const floorRates = [...rates];
  for (let r = rates.at(-1)! * 2; r <= floorMaxRate; r *= 2) floorRates.push(r);
  return {
    stepSeconds,
    rates,
    floorRates,
    workers,
    apis,
    /** The Temporal the bench starts (`PAYSAGA_ENGINE`). */
    engine: temporalEngine({}),
    /** API and worker in one process (`PAYSAGA_COLOCATED=1`): `app`, `app-2`, ... */
    colocated: colocated({}),
    idleSeconds: positive('BENCH_IDLE_SECONDS', 3),
    scenarios,
    graceSeconds: positive('BENCH_GRACE_SECONDS', 15),
    settleSeconds: positive('BENCH_SETTLE_SECONDS', 60),
    maxMinutes: positive('BENCH_MAX_MINUTES', 15),
    logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
    tenantId: process.env.BENCH_TENANT ?? 'default',
    profile,
  };
}
