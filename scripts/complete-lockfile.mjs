/**
 * Some registries (this project's development mirror among them) do not serve every platform
 * build of packages such as @swc/core or rollup. `npm install` then writes a lockfile without
 * entries for those optional, foreign-platform packages, and `npm ci` refuses that lockfile as
 * "out of sync". This script adds the missing optional entries with the platform they are for
 * (read from the package name), so `npm ci` skips them on other platforms as it would with a
 * complete lockfile. Run it after `npm install` changes the lockfile: node scripts/complete-lockfile.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const OS = [
  'darwin',
  'linux',
  'win32',
  'android',
  'freebsd',
  'openbsd',
  'netbsd',
  'sunos',
  'aix',
  'openharmony',
];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];

let added = 0;
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const base = path ? `${path}/node_modules/` : 'node_modules/';
    if (packages[`${base}${name}`] || packages[`node_modules/${name}`]) continue;
    const parts = name.split(/[/-]/);
    const os = OS.find((o) => parts.includes(o)) ?? (parts.includes('win32') ? 'win32' : undefined);
    const cpu = CPU.find((c) => parts.includes(c)) ?? (parts.includes('x64') ? 'x64' : undefined);
    const entry = { version: range.replace(/^[\^~]/, ''), dev: meta.dev, optional: true };
    if (os) entry.os = [os];
    if (cpu) entry.cpu = [cpu];
    if (parts.includes('musl') || parts.includes('musleabihf')) entry.libc = ['musl'];
    else if (os === 'linux' && (parts.includes('gnu') || parts.includes('gnueabihf'))) entry.libc = ['glibc'];
    if (!entry.dev) delete entry.dev;
    packages[`node_modules/${name}`] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional platform entries to package-lock.json`);
