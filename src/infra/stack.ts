/**
 * Brings up the whole Paysaga stack as separate processes: embedded PostgreSQL (unless a
 * database URL is given), the Temporal dev server (unless an address is given), the sandbox
 * gateway, the worker and the API. Used by `npm run dev`, the test suite and the benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { migrateDatabase } from '../db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import { PROJECT_ROOT } from './temporal-binaries.js';
import { startTemporalDevServer, stopChild, type DevServer } from './temporal-dev-server.js';

export interface StackOptions {
  /** Data directory for embedded PostgreSQL; also decides whether it persists. */
  postgresDir: string;
  persistentPostgres: boolean;
  postgresPort?: number;
  databaseUrl?: string | undefined;
  temporalAddress?: string | undefined;
  temporalPort?: number;
  /** Web UI port; headless when omitted. */
  temporalUiPort?: number | undefined;
  /** Temporal file database; in memory when omitted. */
  temporalDbFile?: string | undefined;
  apiPort?: number;
  gatewayPort?: number;
  /** Extra environment for the gateway, worker and API processes. */
  env?: Record<string, string>;
  /** Receives every line the processes print, prefixed with the process name. */
  log: (line: string) => void;
  /** Called when a child exits while the stack is up. */
  onChildExit?: (name: string, code: number | null) => void;
}

export interface Stack {
  apiUrl: string;
  gatewayUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  env: Record<string, string>;
  processes: Map<string, ChildProcess>;
  /** Starts one more process of the stack (e.g. a second worker) with the stack's environment. */
  spawnProcess(name: string, script: string, env?: Record<string, string>): Promise<ChildProcess>;
  stop(): Promise<void>;
}

export const SCRIPTS = {
  gateway: 'sandbox/main.ts',
  worker: 'src/worker/main.ts',
  api: 'src/api/main.ts',
} as const;

const READY_LINES: Record<string, RegExp> = {
  gateway: /listening/i,
  worker: /worker polling/i,
  api: /api listening/i,
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  let postgres: EmbeddedDatabase | undefined;
  let temporal: DevServer | undefined;
  const processes = new Map<string, ChildProcess>();
  let stopping = false;

  const stop = async () => {
    stopping = true;
    await Promise.all([...processes.values()].map((child) => stopChild(child)));
    await temporal?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
  };

  try {
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      postgres = await startEmbeddedPostgres({
        dataDir: options.postgresDir,
        port: options.postgresPort ?? (await freePort()),
        persistent: options.persistentPostgres,
      });
      databaseUrl = postgres.url;
    }
    await migrateDatabase(databaseUrl);

    let temporalAddress = options.temporalAddress;
    if (!temporalAddress) {
      temporal = await startTemporalDevServer({
        port: options.temporalPort ?? (await freePort()),
        uiPort: options.temporalUiPort,
        dbFile: options.temporalDbFile,
        log: (line) => options.log(`[temporal] ${line.trimEnd()}`),
      });
      temporalAddress = temporal.address;
    }

    const apiPort = options.apiPort ?? (await freePort());
    const gatewayPort = options.gatewayPort ?? (await freePort());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      PORT: String(apiPort),
      GATEWAY_URL: gatewayUrl,
      SANDBOX_PORT: String(gatewayPort),
      SANDBOX_WEBHOOK_URL: `${apiUrl}/v1/webhooks/sandbox`,
      PUBLIC_URL: apiUrl,
      ...options.env,
    };

    const spawnProcess = async (name: string, script: string, extra: Record<string, string> = {}) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      processes.set(name, child);
      const ready = READY_LINES[name.replace(/-.*$/, '')] ?? /./;
      const onLine = (chunk: Buffer) =>
        chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .forEach((line) => options.log(`[${name}] ${line}`));
      child.stdout?.on('data', onLine);
      child.stderr?.on('data', onLine);
      child.on('exit', (code) => {
        if (!stopping) options.onChildExit?.(name, code);
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not become ready`)), 120_000);
        const check = (chunk: Buffer) => {
          if (ready.test(chunk.toString())) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        child.stderr?.on('data', check);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited with code ${code} before it was ready`));
        });
      });
      return child;
    };

    await Promise.all([
      spawnProcess('gateway', SCRIPTS.gateway),
      spawnProcess('worker', SCRIPTS.worker),
      spawnProcess('api', SCRIPTS.api),
    ]);
    return {
      apiUrl,
      gatewayUrl,
      databaseUrl,
      temporalAddress,
      temporalUiUrl: temporal?.uiUrl,
      env,
      processes,
      spawnProcess,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}
