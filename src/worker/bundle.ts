import { createRequire } from 'node:module';
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';

const require = createRequire(import.meta.url);

/** The workflow entry point, bundled by the SDK into Temporal's deterministic sandbox. */
export const WORKFLOWS_PATH = require.resolve('../workflows/index.ts');

/** Workflow sources import siblings as `./x.js` (ESM); let webpack find the `.ts` files. */
export const bundlerOptions: Pick<BundleOptions, 'webpackConfigHook' | 'ignoreModules'> = {
  webpackConfigHook: (config) => {
    config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
    return config;
  },
};

export async function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...bundlerOptions, logger: quietLogger });
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
