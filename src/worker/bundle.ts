import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';
import { moduleFile } from '../project-root.js';
import { workflowInterceptorModules } from '../tracing.js';

/** The workflow entry point, bundled by the SDK into Temporal's deterministic sandbox. */
export const WORKFLOWS_PATH = moduleFile(import.meta.url, '../workflows/index.js');

/** Workflow sources import siblings as `./x.js` (ESM); from source, let webpack find the `.ts` files. */
export const bundlerOptions: Pick<BundleOptions, 'webpackConfigHook' | 'ignoreModules'> = {
  webpackConfigHook: (config) => {
    config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
    return config;
  },
};

/** `spans`: bundle OpenTelemetry's workflow interceptors (default: when spans are exported). */
export async function bundleWorkflows(options: { spans?: boolean } = {}): Promise<{ code: string }> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    // Trace propagation (src/tracing.ts); every worker of this bundle registers the span sink.
    workflowInterceptorModules: workflowInterceptorModules(options.spans),
    ...bundlerOptions,
    logger: quietLogger,
  });
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

/**
 * Bundles in a short-lived child process: webpack needs ~150 MB of heap that a long-running
 * worker would keep as RSS after the bundle is made (V8 rarely returns it), so the worker only
 * ever holds the 1.8 MB of code.
 */
export async function bundleWorkflowsInChild(): Promise<{ code: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'paysaga-bundle-'));
  const out = path.join(dir, 'workflows.js');
  try {
    await promisify(execFile)(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), out]);
    return { code: await readFile(out, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(process.argv[2]!, (await bundleWorkflows()).code);
}
