/** The results file (bench/results/*.json) and the table printed at the end of a run. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  renderCapacity,
  renderFloorComparison,
  renderResources,
  type CapacityModel,
  type FloorComparison,
} from './compare.js';
import type { Correctness } from './correctness.js';
import type { StepResources } from './resources.js';
import { kneeOf, ms, type StepResult } from './load.js';

export interface ScenarioResult {
  name: string;
  kind: 'paysaga' | 'floor';
  status: 'ran' | 'skipped' | 'failed';
  note?: string | undefined;
  steps: StepResult[];
  /** Off the ladder: a step at half an engine floor's knee rate (not used to find the knee). */
  extraSteps?: StepResult[] | undefined;
  /** Offered rate of the highest sustained step. */
  kneeRate: number | undefined;
  correctness?: Correctness | undefined;
}

export interface Ratio {
  scenario: string;
  /** The step compared: the knee, or the first step when none held. */
  atRate: number;
  sustained: boolean;
  engine: { throughput: number; p99: number } | undefined;
  database: { throughput: number; p99: number } | undefined;
}

export interface BenchReport {
  runId: string;
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  config: Record<string, unknown>;
  target: Record<string, string>;
  scenarios: ScenarioResult[];
  ratios: Ratio[];
  /** Paysaga against the engine floors at their own knee. */
  floorComparison: FloorComparison[];
  /** The stack's processes over BENCH_IDLE_SECONDS with no load, after the warm-up. */
  idle: StepResources | undefined;
  capacity: CapacityModel | undefined;
  /** Root pid of each measured process, as found when the scenarios started. */
  processes: Record<string, number>;
  ledger: { ok: boolean; violations?: unknown; error?: string };
  ok: boolean;
}

export const ENGINE_FLOOR = 'engine-floor';
export const ACTIVITY_FLOOR = 'activity-floor';
export const DATABASE_FLOOR = 'db-floor';

export function computeRatios(scenarios: ScenarioResult[]): Ratio[] {
  const floorStep = (name: string, rate: number) =>
    scenarios
      .filter((s) => s.name === name)
      .flatMap((s) => [...s.steps, ...(s.extraSteps ?? [])])
      .find((s) => s.offeredRate === rate);
  const ratio = (mine: StepResult, floor: StepResult | undefined) =>
    floor && floor.throughput > 0 && mine.latencyMs && floor.latencyMs
      ? {
          throughput: round(mine.throughput / floor.throughput),
          p99: round(mine.latencyMs.p99 / Math.max(floor.latencyMs.p99, 0.1)),
        }
      : undefined;
  return scenarios
    .filter((s) => s.kind === 'paysaga' && s.steps.length > 0)
    .map((s) => {
      const step = kneeOf(s.steps) ?? s.steps[0]!;
      return {
        scenario: s.name,
        atRate: step.offeredRate,
        sustained: step.verdict === 'sustained',
        engine: ratio(step, floorStep(ENGINE_FLOOR, step.offeredRate)),
        database: ratio(step, floorStep(DATABASE_FLOOR, step.offeredRate)),
      };
    });
}

export function renderReport(report: BenchReport): string {
  const lines: string[] = [];
  const c = report.config;
  lines.push(
    `Paysaga benchmark ${report.runId}: ${report.machine.cpus} CPUs, node ${report.machine.node}, ` +
      `steps of ${String(c.stepSeconds)} s, rates ${String(c.rates)}/s, ${report.elapsedS} s in all`,
  );
  lines.push('');
  const header = [
    'scenario',
    'offered',
    'sent',
    'ok',
    '202',
    'err',
    'thr/s',
    'p50',
    'p90',
    'p99',
    'max',
    'verdict',
  ];
  const rows: string[][] = [];
  for (const s of report.scenarios) {
    if (s.status !== 'ran' || s.steps.length === 0) {
      rows.push([s.name, '', '', '', '', '', '', '', '', '', '', `${s.status}: ${s.note ?? ''}`]);
      continue;
    }
    const verdict = (step: StepResult) =>
      step.verdict === 'sustained' ? 'sustained' : `broke: ${step.brokeBecause.join(', ')}`;
    for (const step of s.steps)
      rows.push(stepRow(s.name, step, step.offeredRate === s.kneeRate ? 'sustained (knee)' : verdict(step)));
    for (const step of s.extraSteps ?? [])
      rows.push(stepRow(s.name, step, `at half a floor's knee: ${verdict(step)}`));
    if (s.status === 'ran' && s.note) rows.push([s.name, '', '', '', '', '', '', '', '', '', '', s.note]);
  }
  lines.push(...table(header, rows));

  const errors = report.scenarios.flatMap((s) =>
    [...s.steps, ...(s.extraSteps ?? [])]
      .filter((step) => step.errors > 0)
      .map((step) => `  ${s.name} @${step.offeredRate}/s: ${JSON.stringify(step.errorReasons)}`),
  );
  if (errors.length) lines.push('', 'errors by reason:', ...errors);

  lines.push('', 'correctness (accepted requests -> one payment in a terminal state):');
  for (const s of report.scenarios) {
    const k = s.correctness;
    if (!k) continue;
    lines.push(
      `  ${s.name.padEnd(8)} ${k.ok ? 'OK  ' : 'FAIL'} accepted ${k.accepted}, settled ${k.settled}, ` +
        `missing ${k.missing}, not settled ${k.notSettled}, mismatched ${k.mismatched}, ` +
        `unanswered-with-payment ${k.unansweredWithPayment} (not terminal ${k.unansweredNotTerminal})`,
    );
    for (const e of k.examples) lines.push(`      e.g. ${e}`);
  }
  lines.push(
    `  ledger   ${report.ledger.ok ? 'OK  ' : 'FAIL'} GET /v1/ledger/verify` +
      (report.ledger.ok ? '' : ` ${report.ledger.error ?? JSON.stringify(report.ledger.violations)}`),
  );

  if (report.ratios.length) {
    lines.push(
      '',
      'Paysaga / floor at the knee (same offered rate; thr ~1.0 = keeps up; p99 = times slower):',
    );
    const fmt = (r: Ratio['engine'], key: 'throughput' | 'p99') => (r ? `${r[key]}x` : '-');
    lines.push(
      ...table(
        ['scenario', 'at', 'thr / engine', 'p99 / engine', 'thr / db', 'p99 / db'],
        report.ratios.map((r) => [
          r.scenario,
          `${r.atRate}/s${r.sustained ? '' : ' (broke)'}`,
          fmt(r.engine, 'throughput'),
          fmt(r.engine, 'p99'),
          fmt(r.database, 'throughput'),
          fmt(r.database, 'p99'),
        ]),
      ),
    );
  }
  const peaks = report.scenarios
    .filter((s) => s.steps.length > 0)
    .map((s) => {
      const all = [...s.steps, ...(s.extraSteps ?? [])];
      const best = Math.max(...all.map((step) => step.throughput));
      return `${s.name} ${best}/s${all.some((step) => step.verdict === 'broke') ? '' : ' (held at every rate: a lower bound)'}`;
    });
  if (peaks.length) lines.push('', `peak throughput: ${peaks.join('; ')}`);
  lines.push(...renderFloorComparison(report.floorComparison));
  lines.push(...renderResources(report.scenarios));
  lines.push(...renderCapacity(report.capacity));
  lines.push('', report.ok ? 'RESULT: correctness checks passed' : 'RESULT: correctness checks FAILED');
  return lines.join('\n');
}

function stepRow(name: string, step: StepResult, verdict: string): string[] {
  const p = step.latencyMs;
  return [
    name,
    `${step.offeredRate}/s`,
    String(step.sent),
    String(step.ok),
    String(step.accepted),
    String(step.errors),
    step.throughput.toFixed(1),
    p ? ms(p.p50) : '-',
    p ? ms(p.p90) : '-',
    p ? ms(p.p99) : '-',
    p ? ms(p.max) : '-',
    verdict,
  ];
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export async function writeReport(dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = path.join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(path.join(dir, 'latest.json'), json);
  return file;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
