/** The chaos run's table and its JSON record in chaos/results/. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failed, type PhaseCheck } from './checks.js';
import type { RequestRecord } from './client.js';
import type { SandboxCounters } from './faults.js';

export interface ChaosReport {
  runId: string;
  mode: 'quick' | 'full';
  seed: number;
  startedAt: string;
  elapsedS: number;
  config: Record<string, unknown>;
  phases: (PhaseCheck & {
    injectedAtS: number;
    recoveredAfterS: number;
    /** What the sandbox did while the phase's requests were sent. */
    sandbox: SandboxCounters;
    injectError?: string;
  })[];
  settle: { waitedS: number; windowS: number };
  ledger: { ok: boolean; detail: unknown };
  supervisorLog: string[];
  /** Every request with every attempt, for reading a finding back. */
  requests: RequestRecord[];
  ok: boolean;
  error?: string;
}

const COLUMNS = [
  'fault',
  'reqs',
  'accepted',
  'lost',
  'double',
  'mismatch',
  'stuck',
  'attention',
  '5xx',
  '5xx!',
  'no-answer',
  'gave-up',
  '',
];

export function renderTable(report: ChaosReport): string {
  const rows = report.phases.map((p) => [
    p.fault,
    p.requests,
    p.accepted,
    p.lost,
    p.double,
    p.mismatch,
    p.stuck,
    p.attention,
    p.fiveXx,
    p.unexpected5xx,
    p.noAnswer,
    Object.values(p.gaveUp).reduce((n, v) => n + v, 0),
    failed(p) || p.injectError ? 'FAIL' : 'ok',
  ]);
  const cells = [COLUMNS, ...rows].map((row) => row.map(String));
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const details = report.phases.flatMap((p) => [
    ...(p.injectError ? [`  ${p.fault}: could not inject: ${p.injectError}`] : []),
    ...p.examples.map((e) => `  ${p.fault}: ${e}`),
  ]);
  return [
    line(cells[0]!),
    ...cells.slice(1).map(line),
    '',
    `ledger verify: ${report.ledger.ok ? 'clean' : `NOT CLEAN ${JSON.stringify(report.ledger.detail)}`}`,
    `settled after ${report.settle.waitedS} s (window ${report.settle.windowS} s)`,
    ...(details.length ? ['', 'findings:', ...details] : []),
    '',
    `${report.ok ? 'PASS' : 'FAIL'} (${report.mode}, seed ${report.seed}, ${report.elapsedS} s)`,
  ].join('\n');
}

export async function writeReport(dir: string, report: ChaosReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(path.join(dir, 'latest.json'), text);
  return file;
}
