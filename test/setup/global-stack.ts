/**
 * The integration tests' stack, one per run: embedded PostgreSQL in a temp folder, one Temporal dev server (in
 * memory), and the sandbox gateway, worker and API as real processes talking real HTTP.
 * Test files reach them through `inject(...)`.
 */
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { projectPath, startStack, type Stack } from '../../src/infra/stack.js';
import { DEV_API_KEY } from '../../src/config.js';
import { TENANT_KEYS } from '../support/tenants.js';

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    gatewayUrl: string;
    databaseUrl: string;
    temporalAddress: string;
    stackEnv: Record<string, string>;
  }
}

let stack: Stack | undefined;
let tempDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const logFile = projectPath('.tmp', 'test-stack.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, '');
  tempDir = mkdtempSync(path.join(tmpdir(), 'paysaga-test-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  stack = await startStack({
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: false,
    env: {
      LOG_LEVEL: 'warn',
      SYNC_WAIT_MS: '10000',
      // Extra tenants let a test file count rows it alone can have written.
      API_KEYS: `${DEV_API_KEY}:default,${TENANT_KEYS.badinput}:badinput,${TENANT_KEYS.other}:other`,
    },
    log: (line) => appendFileSync(logFile, `${line}\n`),
    onChildExit: (name, code) => appendFileSync(logFile, `!! ${name} exited with code ${code}\n`),
  });
  project.provide('apiUrl', stack.apiUrl);
  project.provide('gatewayUrl', stack.gatewayUrl);
  project.provide('databaseUrl', stack.databaseUrl);
  project.provide('temporalAddress', stack.temporalAddress);
  project.provide('stackEnv', stack.env);
}

export async function teardown(): Promise<void> {
  await stack?.stop();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
