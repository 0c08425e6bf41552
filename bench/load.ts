/**
 * The open-loop driver: request i is sent at t0 + i / rate whatever happened to the earlier ones,
 * and its latency is measured from that scheduled time, so a slow server (or a stalled driver)
 * shows up as latency instead of silently lowering the offered rate.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeResources, type Meter, type StepResources } from './resources.js';

/** What one request ended as: settled OK, accepted but not settled yet (202), or an error. */
export interface Outcome {
  kind: 'ok' | 'accepted' | 'error';
  httpStatus?: number | undefined;
  /** Why it is an error, e.g. `http_500:internal_error` or `declined:card_declined`. */
  reason?: string | undefined;
  /** The payment status the answer carried, for the correctness check. */
  paymentStatus?: string | undefined;
}

export interface Sample extends Omit<Outcome, 'kind'> {
  index: number;
  /** `cutoff`: still running when the step's grace period ended (counted as an error). */
  kind: Outcome['kind'] | 'cutoff';
  latencyMs: number;
}

export interface StepPlan {
  rate: number;
  durationMs: number;
  /** How long in-flight requests may finish after the last send before they are cut off. */
  graceMs: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface StepResult {
  offeredRate: number;
  durationS: number;
  sent: number;
  ok: number;
  /** 202: accepted, not settled within the API's synchronous wait. */
  accepted: number;
  /** Error answers, failed sends and requests cut off at the deadline. */
  errors: number;
  errorReasons: Record<string, number>;
  /**
   * Settled OK answers per second: the lesser of OK / step length and the rate at which the
   * middle 90% of OK answers arrived, so answers piling up after the step do not pass for keeping up.
   */
  throughput: number;
  /** Over OK, 202 and cut-off requests (a cut-off request counts its time so far: a lower bound). */
  latencyMs: LatencySummary | undefined;
  /** Worst delay between a scheduled send and the actual send: the driver's own lag. */
  maxSendLagMs: number;
  verdict: 'sustained' | 'broke';
  brokeBecause: string[];
  /** CPU and memory of each stack process while the step ran (started stack on Linux only). */
  resources?: StepResources | undefined;
}

export const KNEE = { maxErrorRate: 0.01, maxP99Ms: 2000, minThroughputRatio: 0.9 } as const;

export type Fire = (index: number, signal: AbortSignal) => Promise<Outcome>;

/** With a `meter`, the stack's processes are sampled from the first send until the step is cut off. */
export async function runOpenLoop(
  plan: StepPlan,
  fire: Fire,
  meter?: Meter,
): Promise<{ result: StepResult; samples: Sample[] }> {
  const total = Math.max(1, Math.round((plan.rate * plan.durationMs) / 1000));
  const interval = 1000 / plan.rate;
  const abort = new AbortController();
  const samples: Sample[] = [];
  const inFlight = new Map<number, number>(); // index -> scheduled time
  let closed = false;
  const okTimes: number[] = [];
  let maxSendLagMs = 0;
  let sendingDone = false;
  let drained: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (drained = resolve));

  const record = (index: number, due: number, outcome: Outcome) => {
    if (closed || !inFlight.has(index)) return;
    inFlight.delete(index);
    const now = performance.now();
    if (outcome.kind === 'ok') okTimes.push(now);
    samples.push({ ...outcome, index, latencyMs: now - due });
    if (sendingDone && inFlight.size === 0) drained();
  };

  const probe = meter?.start();
  const t0 = performance.now() + 5;
  const sendDeadline = t0 + plan.durationMs + 1000;
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const now = performance.now();
    if (now > sendDeadline) {
      // The driver fell more than a second behind: do not stretch the step, count the rest.
      samples.push({ index: i, kind: 'error', reason: 'not_sent_driver_behind', latencyMs: 0 });
      continue;
    }
    maxSendLagMs = Math.max(maxSendLagMs, now - due);
    inFlight.set(i, due);
    fire(i, abort.signal).then(
      (outcome) => record(i, due, outcome),
      (error: unknown) => record(i, due, { kind: 'error', reason: errorReason(error) }),
    );
  }
  sendingDone = true;
  if (inFlight.size === 0) drained();

  const grace = new AbortController();
  await Promise.race([
    allDone,
    sleep(plan.graceMs, undefined, { signal: grace.signal }).catch(() => undefined),
  ]);
  grace.abort();
  closed = true;
  const cutAt = performance.now();
  for (const [index, due] of inFlight) {
    samples.push({ index, kind: 'cutoff', reason: 'cutoff_after_grace', latencyMs: cutAt - due });
  }
  inFlight.clear();
  abort.abort();

  const result = summarize(plan, total, samples, okTimes, maxSendLagMs);
  result.resources = probe?.stop(result.ok);
  return { result, samples };
}

function summarize(
  plan: StepPlan,
  sent: number,
  samples: Sample[],
  okTimes: number[],
  maxSendLagMs: number,
): StepResult {
  const count = (kind: Sample['kind']) => samples.filter((s) => s.kind === kind).length;
  const ok = count('ok');
  const accepted = count('accepted');
  const errors = count('error') + count('cutoff');
  const errorReasons: Record<string, number> = {};
  for (const s of samples) {
    if (s.kind === 'error' || s.kind === 'cutoff') {
      const reason = s.reason ?? 'unknown';
      errorReasons[reason] = (errorReasons[reason] ?? 0) + 1;
    }
  }
  const latencies = samples
    .filter((s) => s.kind !== 'error')
    .map((s) => s.latencyMs)
    .sort((a, b) => a - b);
  const latencyMs = latencies.length
    ? {
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1]!,
      }
    : undefined;
  const perStep = (ok * plan.rate) / sent; // OK answers over the time the sends were spread over
  const throughput = Math.min(perStep, completionRate(okTimes) ?? perStep);
  const brokeBecause: string[] = [];
  if (errors / sent > KNEE.maxErrorRate) brokeBecause.push(`errors ${((100 * errors) / sent).toFixed(1)}%`);
  if (!latencyMs || latencyMs.p99 > KNEE.maxP99Ms)
    brokeBecause.push(`p99 ${latencyMs ? Math.round(latencyMs.p99) : '-'} ms`);
  if (throughput < KNEE.minThroughputRatio * plan.rate)
    brokeBecause.push(`throughput ${((100 * throughput) / plan.rate).toFixed(0)}% of offered`);
  return {
    offeredRate: plan.rate,
    durationS: plan.durationMs / 1000,
    sent,
    ok,
    accepted,
    errors,
    errorReasons,
    throughput: round(throughput, 2),
    latencyMs: latencyMs && {
      p50: round(latencyMs.p50, 1),
      p90: round(latencyMs.p90, 1),
      p99: round(latencyMs.p99, 1),
      max: round(latencyMs.max, 1),
    },
    maxSendLagMs: round(maxSendLagMs, 1),
    verdict: brokeBecause.length ? 'broke' : 'sustained',
    brokeBecause,
  };
}

/** Answers per second between the 5th and 95th percentile answer times; too few: undefined. */
function completionRate(times: number[]): number | undefined {
  if (times.length < 10) return undefined;
  const sorted = [...times].sort((a, b) => a - b);
  const first = Math.floor(0.05 * sorted.length);
  const last = Math.ceil(0.95 * sorted.length) - 1;
  const spanMs = sorted[last]! - sorted[first]!;
  return spanMs > 0 ? ((last - first) * 1000) / spanMs : undefined;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

/** The highest step that held (the knee), else undefined. */
export function kneeOf(steps: StepResult[]): StepResult | undefined {
  return steps.filter((s) => s.verdict === 'sustained').at(-1);
}

/** Runs steps at increasing rates until one breaks (that step is kept: it is where the knee is). */
export async function stepUntilKnee(
  rates: number[],
  runStep: (rate: number) => Promise<StepResult>,
  log: (line: string) => void,
): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  for (const rate of rates) {
    const step = await runStep(rate);
    steps.push(step);
    log(describeStep(step));
    if (step.verdict === 'broke') break;
  }
  return steps;
}

export function describeStep(s: StepResult): string {
  const p = s.latencyMs;
  const lat = p ? `p50 ${ms(p.p50)} p99 ${ms(p.p99)} max ${ms(p.max)}` : 'no latency';
  const why = s.verdict === 'broke' ? ` BROKE (${s.brokeBecause.join(', ')})` : '';
  const usage = describeResources(s.resources);
  return (
    `${s.offeredRate}/s: ${s.ok}/${s.sent} ok, ${s.accepted} 202, ${s.errors} err, ${s.throughput}/s, ${lat}${why}` +
    (usage ? `\n${usage}` : '')
  );
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${Math.round(value)}ms`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function errorReason(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown } | undefined;
    const code = typeof cause?.code === 'string' ? cause.code : error.name;
    return `exception:${code}`;
  }
  return 'exception';
}
