/**
 * The workflow tests need only Temporal's time-skipping test server: resolve (and on first use,
 * install) its binary once, before the test files race for it, and bundle the workflow code
 * once for every file. No PostgreSQL, no dev stack.
 */
import type { TestProject } from 'vitest/node';
import { resolveTemporalTestServer } from '../../tools/stack/temporal-binaries.js';
import { bundleWorkflows } from '../../src/worker/bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testServerPath: string | undefined;
    workflowBundleCode: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  project.provide(
    'testServerPath',
    resolveTemporalTestServer((line) => console.log(`[setup] ${line}`)),
  );
  project.provide('workflowBundleCode', (await bundleWorkflows()).code);
}
