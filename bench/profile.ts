/**
 * Reads V8 CPU profiles (`BENCH_PROFILE=worker npm run bench` writes them) and prints where the
 * time went: self time by package or source folder, and the heaviest functions.
 *
 *   npm run bench:profile                      # the newest profile in bench/results/profiles
 *   npm run bench:profile -- a.cpuprofile ...  # these
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const PROFILES_DIR = fileURLToPath(new URL('./results/profiles/', import.meta.url));

/** Where a frame's code comes from: a package, a folder of this project, Node itself, or V8. */
export function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const project = url.match(/\/(src|sandbox|bench)\/(.*)$/);
  if (project) return `${project[1]}/${project[2]!.split('/').slice(0, -1).join('/') || '.'}`;
  // The workflow bundle runs in a vm context under a name of its own.
  return url.includes('workflow') ? '(workflow bundle)' : url;
}

export function summarize(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = profile.endTime - profile.startTime;
  const idleUs = [...self]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((sum, [, us]) => sum + us, 0);
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const where = origin(frame.url, frame.functionName);
    groups.set(where, (groups.get(where) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000) }));
  return {
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round((totalUs - idleUs) / 1000),
    groups: top(groups, 25),
    functions: top(functions, 30),
  };
}

function newest(): string[] {
  const files = readdirSync(PROFILES_DIR)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(PROFILES_DIR, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files.length)
    throw new Error(`no .cpuprofile in ${PROFILES_DIR}: run BENCH_PROFILE=worker npm run bench`);
  return files.slice(0, 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : newest();
  for (const file of files) {
    const summary = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    console.log(`${file}\n  profiled ${summary.totalMs} ms, busy ${summary.busyMs} ms (self time below, ms)`);
    console.log('  by origin:');
    for (const { name, ms } of summary.groups) console.log(`    ${String(ms).padStart(7)}  ${name}`);
    console.log('  heaviest functions:');
    for (const { name, ms } of summary.functions) console.log(`    ${String(ms).padStart(7)}  ${name}`);
  }
}
