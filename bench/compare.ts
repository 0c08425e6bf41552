/**
 * What the report adds on top of the step table: Paysaga against the engine floors at their own
 * knee (peak fractions; p99 at half the floor's knee rate), the resources of each process per step,
 * and a capacity model from the CPU ms per payment measured at the wallet's knee.
 */
import { kneeOf, ms, type StepResult } from './load.js';
import { orderedNames, type StepResources } from './resources.js';

export interface ComparedResult {
  name: string;
  kind: 'paysaga' | 'floor';
  steps: StepResult[];
  extraSteps?: StepResult[] | undefined;
}

interface StepBrief {
  rate: number;
  throughput: number;
  p99: number | undefined;
  verdict: StepResult['verdict'];
  /** CPU ms per completed request summed over the processes that serve it (see `servingCpuMs`). */
  cpuMs: number | undefined;
}

export interface FloorComparison {
  floor: string;
  floorKneeRate: number | undefined;
  floorPeak: number;
  /** false: the floor held at every rate of its ladder, so its peak is a lower bound. */
  floorBroke: boolean;
  /** Each Paysaga scenario's peak throughput over the floor's. */
  peakFractions: { scenario: string; peak: number; fraction: number }[];
  /** The wallet's p99 and the floor's at half the floor's knee rate. */
  halfKnee:
    | {
        rate: number;
        wallet: StepBrief | undefined;
        floor: StepBrief | undefined;
        p99Ratio: number | undefined;
        /** The wallet's CPU per payment over the floor's CPU per workflow, at that rate. */
        cpuRatio: number | undefined;
      }
    | undefined;
}

const allSteps = (r: ComparedResult) => [...r.steps, ...(r.extraSteps ?? [])];
const peakOf = (r: ComparedResult) => Math.max(0, ...allSteps(r).map((s) => s.throughput));
/**
 * What a request costs in CPU across the processes that serve it, per completed request. A
 * Paysaga scenario: every stack process (API, worker, PostgreSQL, Temporal, gateway), not the
 * load generator. A floor: its client and worker, which live in the bench process, and Temporal.
 */
function servingCpuMs(s: StepResult, kind: ComparedResult['kind']): number | undefined {
  const res = s.resources;
  if (!res || res.completed === 0) return undefined;
  const names = Object.keys(res.processes).filter((name) =>
    kind === 'floor' ? name === 'bench' || name === 'temporal' : name !== 'bench',
  );
  return round(names.reduce((sum, name) => sum + res.processes[name]!.cpuMs, 0) / res.completed);
}

const brief = (s: StepResult | undefined, kind: ComparedResult['kind']): StepBrief | undefined =>
  s && {
    rate: s.offeredRate,
    throughput: s.throughput,
    p99: s.latencyMs?.p99,
    verdict: s.verdict,
    cpuMs: servingCpuMs(s, kind),
  };

export function compareWithFloors(results: ComparedResult[], floors: string[]): FloorComparison[] {
  const paysaga = results.filter((r) => r.kind === 'paysaga' && r.steps.length > 0);
  const wallet = paysaga.find((r) => r.name === 'wallet');
  return floors.flatMap((name) => {
    const floor = results.find((r) => r.name === name && r.steps.length > 0);
    if (!floor) return [];
    const floorPeak = peakOf(floor);
    const kneeRate = kneeOf(floor.steps)?.offeredRate;
    const at = (r: ComparedResult | undefined, rate: number) =>
      r && allSteps(r).find((s) => s.offeredRate === rate);
    let halfKnee: FloorComparison['halfKnee'];
    if (kneeRate !== undefined) {
      const rate = kneeRate / 2;
      const w = brief(at(wallet, rate), 'paysaga');
      const f = brief(at(floor, rate), 'floor');
      const p99Ratio =
        w?.p99 !== undefined && f?.p99 !== undefined ? round(w.p99 / Math.max(f.p99, 0.1)) : undefined;
      const cpuRatio = w?.cpuMs !== undefined && f?.cpuMs ? round(w.cpuMs / f.cpuMs) : undefined;
      halfKnee = { rate, wallet: w, floor: f, p99Ratio, cpuRatio };
    }
    return [
      {
        floor: name,
        floorKneeRate: kneeRate,
        floorPeak,
        floorBroke: floor.steps.some((s) => s.verdict === 'broke'),
        peakFractions: paysaga.map((r) => ({
          scenario: r.name,
          peak: peakOf(r),
          fraction: floorPeak > 0 ? Math.round((1000 * peakOf(r)) / floorPeak) / 1000 : 0,
        })),
        halfKnee,
      },
    ];
  });
}

export function renderFloorComparison(comparisons: FloorComparison[]): string[] {
  if (!comparisons.length) return [];
  const lines = ['', 'Paysaga against the engine floors stepped to their own knee:'];
  for (const c of comparisons) {
    const bound = c.floorBroke ? '' : ' (held at every rate: a lower bound)';
    lines.push(
      `  ${c.floor}: knee ${c.floorKneeRate ?? '-'}/s, peak ${c.floorPeak}/s${bound}; ` +
        `peak / floor peak: ${c.peakFractions.map((p) => `${p.scenario} ${p.fraction}`).join(', ')}`,
    );
    const h = c.halfKnee;
    if (h) {
      const side = (b: StepBrief | undefined) =>
        b ? `p99 ${b.p99 === undefined ? '-' : ms(b.p99)} (${b.throughput}/s, ${b.verdict})` : 'not run';
      lines.push(
        `    at half its knee, ${h.rate}/s: wallet ${side(h.wallet)} vs floor ${side(h.floor)}` +
          (h.p99Ratio === undefined ? '' : ` = ${h.p99Ratio}x`),
      );
      const cpu = (b: StepBrief | undefined) => (b?.cpuMs === undefined ? '-' : `${b.cpuMs} ms`);
      lines.push(
        `    CPU per request there, every serving process: wallet ${cpu(h.wallet)} vs floor ${cpu(h.floor)}` +
          (h.cpuRatio === undefined ? '' : ` = ${h.cpuRatio}x`),
      );
    }
  }
  return lines;
}

/** The per-process CPU ms per completed request of every step, one row per step. */
export function renderResources(results: ComparedResult[]): string[] {
  const rows = results.flatMap((r) =>
    allSteps(r)
      .filter((s) => s.resources)
      .map((s) => ({ name: r.name, step: s, res: s.resources! })),
  );
  if (!rows.length) return [];
  const names = orderedNames([...new Set(rows.flatMap((r) => Object.keys(r.res.processes)))]);
  const lines = ['', 'CPU ms per completed request (cores used) / peak RSS MB, per process and step:'];
  const cell = (res: StepResources, n: string) => {
    const u = res.processes[n];
    return u ? `${u.cpuMsPerCompleted ?? '-'} (${u.cores.toFixed(2)}) ${u.rssPeakMb}` : '-';
  };
  const header = ['scenario', 'rate', ...names, 'machine busy'];
  const body = rows.map(({ name, step, res }) => [
    name,
    `${step.offeredRate}/s`,
    ...names.map((n) => cell(res, n)),
    `${(res.machine.busyMs / res.sampledMs).toFixed(2)} cores`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  lines.push(fmt(header), ...body.map(fmt));
  return lines;
}

export interface CapacityModel {
  /** The wallet step the figures come from (its knee, else its first step). */
  fromRate: number;
  /** CPU ms per payment per component (worker processes summed), idle use taken out. */
  cpuMsPerPayment: Record<string, number>;
  /** Cores each component uses with no load (pollers, timers); 0 when not measured. */
  idleCores: Record<string, number>;
  /** Cores each component needs at these payments/s: idle + rate * ms / 1000. */
  coresAt: Record<string, Record<string, number>>;
  saturatesFirst: string | undefined;
}

export const CAPACITY_RATES = [50, 200, 1000];

const component = (name: string) => name.replace(/-\d+$/, '');

export function capacityModel(
  results: ComparedResult[],
  idle: StepResources | undefined,
): CapacityModel | undefined {
  const wallet = results.find((r) => r.name === 'wallet');
  const step = wallet && (kneeOf(wallet.steps) ?? wallet.steps[0]);
  const res = step?.resources;
  if (!res || res.completed === 0) return undefined;
  const perPayment: Record<string, number> = {};
  const idleCores: Record<string, number> = {};
  for (const [name, u] of Object.entries(res.processes)) {
    if (name === 'bench') continue;
    const key = component(name);
    const idleShare = idle?.processes[name]?.cores ?? 0;
    const busyMs = Math.max(0, u.cpuMs - idleShare * res.sampledMs);
    perPayment[key] = round((perPayment[key] ?? 0) + busyMs / res.completed);
    idleCores[key] = round((idleCores[key] ?? 0) + idleShare);
  }
  const coresAt = Object.fromEntries(
    CAPACITY_RATES.map((rate) => [
      String(rate),
      Object.fromEntries(
        Object.entries(perPayment).map(([n, v]) => [n, round(idleCores[n]! + (rate * v) / 1000)]),
      ),
    ]),
  );
  const saturatesFirst = Object.entries(perPayment).sort((a, b) => b[1] - a[1])[0]?.[0];
  return { fromRate: step.offeredRate, cpuMsPerPayment: perPayment, idleCores, coresAt, saturatesFirst };
}

export function renderCapacity(model: CapacityModel | undefined): string[] {
  if (!model) return [];
  const names = orderedNames(Object.keys(model.cpuMsPerPayment));
  const list = (f: (n: string) => number) => names.map((n) => `${n} ${f(n)}`).join(', ');
  return [
    '',
    `capacity model (wallet @${model.fromRate}/s): cores = idle + payments/s x CPU ms per payment / 1000`,
    `  CPU ms/payment: ${list((n) => model.cpuMsPerPayment[n]!)}`,
    `  idle cores:     ${list((n) => model.idleCores[n]!)}`,
    ...CAPACITY_RATES.map(
      (rate) => `  ${String(rate).padStart(5)}/s: ${list((n) => model.coresAt[String(rate)]![n]!)} cores`,
    ),
    `  saturates first (most CPU per payment): ${model.saturatesFirst ?? '-'}`,
  ];
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
