/**
 * The workflow tests need only Temporal's time-skipping test server: resolve (and on first use,
 * install) its binary once, before the test files race for it. No PostgreSQL, no dev stack.
 */
import type { TestProject } from 'vitest/node';
import { resolveTemporalTestServer } from '../../src/infra/temporal-binaries.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testServerPath: string | undefined;
  }
}

export function setup(project: TestProject): void {
  project.provide(
    'testServerPath',
    resolveTemporalTestServer((line) => console.log(`[setup] ${line}`)),
  );
}
