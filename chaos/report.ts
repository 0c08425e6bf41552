/** The chaos run's table and its JSON record in chaos/results/. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failed, type Isolation, type PhaseCheck } from './checks.js';
import type { RequestRecord } from './client.js';
import type { SandboxCounters } from './faults.js';
import type { NoisyDeliveries } from './sinks.js';

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
    /** A broker phase: the relay's lag per sink on /readyz just before the broker came back. */
    relayAtEnd?: RelayLag;
    injectError?: string;
  })[];
  /** The tenant whose endpoints answer 500 all run long. */
  noisy?: {
    tenant: string;
    endpoints: number;
    payments: number;
    accepted: number;
    deliveries: NoisyDeliveries;
  };
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
  'webhooks-missing',
  'events-missing',
  'held',
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
    p.webhooksMissing,
    Object.values(p.eventsMissing).reduce((n, v) => n + v, 0),
    p.isolation ? p.held : '-',
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
    ...report.phases.flatMap((p) => (p.isolation ? [isolationLine(p, p.isolation)] : [])),
    ...(report.noisy ? [noisyLine(report.noisy)] : []),
    ...(details.length ? ['', 'findings:', ...details] : []),
    '',
    `${report.ok ? 'PASS' : 'FAIL'} (${report.mode}, seed ${report.seed}, ${report.elapsedS} s)`,
  ].join('\n');
}

/** `GET /readyz`'s `dependencies.relay`. */
export type RelayLag = Record<string, { ok: boolean; backlog: number; lagSeconds: number }>;

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

function isolationLine(phase: ChaosReport['phases'][number], isolation: Isolation): string {
  const sinks = Object.entries(isolation.latency).map(
    ([sink, l]) => `${sink} got ${l.received} (p50 ${seconds(l.p50Ms)}, max ${seconds(l.maxMs)})`,
  );
  const relay = Object.entries(phase.relayAtEnd ?? {}).map(
    ([sink, lag]) => `${sink} ${lag.backlog} (${lag.lagSeconds} s)`,
  );
  return [
    `${phase.fault} for ${isolation.downS} s: of ${isolation.terminalEvents} payments that ended meanwhile (${isolation.judged} judged),`,
    `  ${sinks.join(', ')} before it came back; relay backlog then: ${relay.join(', ') || 'not read'}`,
  ].join('\n');
}

function noisyLine(noisy: NonNullable<ChaosReport['noisy']>): string {
  const d = noisy.deliveries;
  return `tenant ${noisy.tenant}: ${noisy.accepted}/${noisy.payments} payments accepted; its ${noisy.endpoints} endpoints refused ${d.refusedAttempts} attempts, ${d.pending} deliveries waiting, ${d.delivered} delivered`;
}

export async function writeReport(dir: string, report: ChaosReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(path.join(dir, 'latest.json'), text);
  return file;
}
