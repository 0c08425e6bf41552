/**
 * CPU and memory of each stack process during a step, read from /proc (Linux only; elsewhere the
 * meter reports nothing). A component is a process tree: its root and every descendant, so the
 * postmaster counts with its backends and a tsx-launched process with its esbuild helper. CPU is
 * utime + stime + cutime + cstime summed over the live tree (children that exited are in their
 * parent's cutime/cstime); RSS is summed over the tree (shared pages count once per process).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessUsage {
  cpuMs: number;
  /** CPU ms per completed (OK) request of the step; undefined when none completed. */
  cpuMsPerCompleted: number | undefined;
  /** Share of one core over the step: cpuMs / step ms. */
  cores: number;
  /** Highest summed RSS among the samples taken during the step. */
  rssPeakMb: number;
  /** VmHWM of the root process at the end: its peak RSS since it started. */
  hwmMb: number | undefined;
  processes: number;
}

export interface StepResources {
  sampledMs: number;
  samples: number;
  completed: number;
  processes: Record<string, ProcessUsage>;
  /** The whole machine (/proc/stat): busy CPU ms, and what no listed process accounts for. */
  machine: { busyMs: number; otherMs: number };
}

/** A component to measure: `self` counts the root alone (the bench process, not its children). */
export interface Root {
  name: string;
  pid: number;
  self?: boolean;
}

interface ProcStat {
  pid: number;
  ppid: number;
  ownTicks: number;
  childTicks: number;
  rssPages: number;
}

const HAS_PROC = existsSync('/proc/self/stat');
const CLOCK_TICKS = sysconf('CLK_TCK', 100);
const PAGE_BYTES = sysconf('PAGESIZE', 4096);
const MB = 1024 * 1024;

function sysconf(name: string, fallback: number): number {
  if (!HAS_PROC) return fallback;
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17, rss 24.
    return {
      pid,
      ppid: Number(f[1]),
      ownTicks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
      rssPages: Number(f[21]),
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

function scan(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.set(stat.pid, stat);
  }
  return all;
}

function tree(all: Map<number, ProcStat>, root: number): ProcStat[] {
  const children = new Map<number, number[]>();
  for (const p of all.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    const stat = all.get(pid);
    if (!stat) continue;
    out.push(stat);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

interface Reading {
  ticks: number;
  rssBytes: number;
  processes: number;
}

function readRoots(roots: Root[]): Map<string, Reading> {
  const all = scan();
  const readings = new Map<string, Reading>();
  for (const root of roots) {
    const members = root.self ? [all.get(root.pid)].filter((p) => p !== undefined) : tree(all, root.pid);
    readings.set(root.name, {
      ticks: members.reduce((sum, p) => sum + p.ownTicks + (root.self ? 0 : p.childTicks), 0),
      rssBytes: members.reduce((sum, p) => sum + p.rssPages * PAGE_BYTES, 0),
      processes: members.length,
    });
  }
  return readings;
}

function machineBusyTicks(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
}

function hwmMb(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export interface Probe {
  stop(completed: number): StepResources | undefined;
}

export interface Meter {
  start(): Probe;
  /** The components as found now (name -> root pid), for the run's log and JSON. */
  describe(): Record<string, number>;
}

/** Samples `roots()` (looked up again at every step start) every `intervalMs` for the peak RSS. */
export function createMeter(roots: () => Root[], intervalMs = 250): Meter {
  const describe = () => Object.fromEntries(roots().map((r) => [r.name, r.pid]));
  if (!HAS_PROC) return { start: () => ({ stop: () => undefined }), describe };
  return {
    describe,
    start() {
      const list = roots();
      const startedAt = Date.now();
      const first = readRoots(list);
      const busyAtStart = machineBusyTicks();
      const peak = new Map([...first].map(([name, r]) => [name, r.rssBytes]));
      let samples = 1;
      const sample = () => {
        samples++;
        for (const [name, r] of readRoots(list)) peak.set(name, Math.max(peak.get(name) ?? 0, r.rssBytes));
      };
      const timer = setInterval(sample, intervalMs);
      timer.unref();
      return {
        stop(completed) {
          clearInterval(timer);
          const last = readRoots(list);
          samples++;
          const sampledMs = Math.max(1, Date.now() - startedAt);
          const toMs = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
          const processes: Record<string, ProcessUsage> = {};
          for (const root of list) {
            const a = first.get(root.name)!;
            const b = last.get(root.name)!;
            const cpuMs = Math.max(0, toMs(b.ticks - a.ticks));
            processes[root.name] = {
              cpuMs: Math.round(cpuMs),
              cpuMsPerCompleted: completed > 0 ? round(cpuMs / completed, 2) : undefined,
              cores: round(cpuMs / sampledMs, 3),
              rssPeakMb: Math.round(Math.max(peak.get(root.name) ?? 0, b.rssBytes) / MB),
              hwmMb: hwmMb(root.pid),
              processes: b.processes,
            };
          }
          const busyMs = Math.round(toMs(machineBusyTicks() - busyAtStart));
          const listed = Object.values(processes).reduce((sum, p) => sum + p.cpuMs, 0);
          return {
            sampledMs,
            samples,
            completed,
            processes,
            machine: { busyMs, otherMs: Math.max(0, busyMs - listed) },
          };
        },
      };
    },
  };
}

/** The started stack's components: its spawned processes, Temporal and PostgreSQL, and the bench. */
export function stackRoots(
  processes: Map<string, { pid?: number | undefined }>,
  postgresDataDir: string | undefined,
): Root[] {
  const roots: Root[] = [{ name: 'bench', pid: process.pid, self: true }];
  for (const [name, child] of processes) if (child.pid) roots.push({ name, pid: child.pid });
  if (!HAS_PROC) return roots;
  const postmaster = postgresDataDir ? readPostmasterPid(postgresDataDir) : undefined;
  if (postmaster) roots.push({ name: 'postgres', pid: postmaster });
  // The Temporal dev server is a child of this process (the CLI's `server start-dev`).
  const temporal = [...scan().values()].find(
    (p) => p.ppid === process.pid && cmdline(p.pid).includes('start-dev'),
  );
  if (temporal) roots.push({ name: 'temporal', pid: temporal.pid });
  return roots;
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

const ORDER = ['api', 'worker', 'app', 'temporal', 'postgres', 'gateway', 'bench'];
export function orderedNames(names: string[]): string[] {
  const rank = (n: string) => {
    const i = ORDER.indexOf(n.replace(/-\d+$/, ''));
    return i < 0 ? ORDER.length : i;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** One line per step: `cpu ms/ok api 3.1 worker 12 ... | cores ... | rss MB ...`. */
export function describeResources(r: StepResources | undefined): string | undefined {
  if (!r) return undefined;
  const names = orderedNames(Object.keys(r.processes));
  const part = (f: (u: ProcessUsage) => string) => names.map((n) => `${n} ${f(r.processes[n]!)}`).join(' ');
  const perOk = (u: ProcessUsage) => (u.cpuMsPerCompleted === undefined ? '-' : String(u.cpuMsPerCompleted));
  return (
    `    cpu ms/ok: ${part(perOk)} | cores: ${part((u) => u.cores.toFixed(2))} | ` +
    `rss peak MB: ${part((u) => String(u.rssPeakMb))} | machine busy ${(r.machine.busyMs / r.sampledMs).toFixed(2)} cores, ` +
    `other ${(r.machine.otherMs / r.sampledMs).toFixed(2)}`
  );
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
