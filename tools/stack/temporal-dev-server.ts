import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../src/workflows/contract.js';
import { exitCode } from './supervisor.js';
import { engineArgs, engineEnv } from './temporal-engine.js';
import { resolveTemporalCli, testingExecutable } from './temporal-binaries.js';

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  /** The CLI's process id; undefined when the SDK runs the server (it cannot be signalled). */
  pid: number | undefined;
  /** Resolves with the exit code (128 + n for signal n) when the server ends, however it ends. */
  exited: Promise<number>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number | undefined;
  /** File database so workflows survive a restart; in memory when omitted. */
  dbFile?: string | undefined;
  /**
   * Dynamic-config values on top of the engine's (temporal-engine.ts): a test server can lower
   * Temporal's limits (signals per execution, history size) to reach them in seconds.
   */
  dynamicConfig?: Record<string, number> | undefined;
  log?: (line: string) => void;
}

/**
 * The Temporal CLI dev server (Temporal Server + Web UI in one binary) with Paysaga's search
 * attributes registered. Uses the binary from temporal-binaries.ts; on a machine where none can
 * be found or installed, falls back to the SDK's own download through @temporalio/testing.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => undefined);
  const cli = resolveTemporalCli(log);
  const address = `127.0.0.1:${options.port}`;
  const args = [
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'error',
    ...(options.uiPort ? ['--ui-port', String(options.uiPort), '--ui-ip', '127.0.0.1'] : ['--headless']),
    ...SEARCH_ATTRIBUTE_FLAGS.flatMap((flag) => ['--search-attribute', flag]),
  ];
  if (options.dbFile) {
    await mkdir(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  args.push(...engineArgs({ fileDatabase: Boolean(options.dbFile) }));
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${key}=${value}`);
  if (!cli) return startThroughSdk(options, args);

  const child = spawn(cli, ['server', 'start-dev', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: engineEnv(),
  });
  // However this process ends (an error, process.exit mid-shutdown), the server does not outlive it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => log(chunk.toString()));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(exitCode(code, signal))),
  );
  const failed = exited.then((code) => {
    throw new Error(`temporal server start-dev exited with code ${code}`);
  });
  failed.catch(() => undefined);
  try {
    await Promise.race([waitUntilReachable(address), failed]);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    pid: child.pid,
    exited,
    stop: () => stopChild(child),
  };
}

async function startThroughSdk(options: DevServerOptions, extraArgs: string[]): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: testingExecutable(undefined),
      ip: '127.0.0.1',
      port: options.port,
      extraArgs,
      ui: Boolean(options.uiPort),
      uiPort: options.uiPort,
    },
  });
  let ended: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (ended = resolve));
  return {
    address: env.address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    pid: undefined,
    exited,
    stop: () => env.teardown().finally(() => ended(0)),
  };
}

export async function waitUntilReachable(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} not reachable: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
