/**
 * Preloaded into the worker process after tsx (`node --import tsx --import ./src/worker/workflow-threads.ts`),
 * so Node also runs it first in each of the Temporal SDK's workflow threads, before the SDK sets
 * them up. The main thread is left alone.
 *
 * In a workflow thread it turns off the SDK's workflow stack traces unless
 * `WORKFLOW_STACK_TRACES=on`. The SDK collects them through a V8 promise hook that captures and
 * source-maps a stack trace for every promise a workflow creates, whether anyone asks or not: on
 * 2 cores it was about a quarter of the worker's CPU per wallet payment, and the workflow thread
 * it saturates is what first limits payments per second (docs/benchmarks.md). Without it the SDK
 * runs as on runtimes without promise hooks, which it supports: workflows run the same, and only
 * the Web UI's "Stack Trace" tab (the `__stack_trace` query) answers that stack traces are not
 * enabled. The event history, `GET /v1/payments/{id}/timeline` and the logs still say where a
 * payment stands.
 */
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/** The line the SDK prints (to the console, not the log) when it finds no promise hooks. */
const SDK_NOTICE = 'v8.promiseHooks.createHook is not available';

export function stackTracesWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WORKFLOW_STACK_TRACES === 'on';
}

if (!isMainThread && !stackTracesWanted()) {
  v8.promiseHooks.createHook = () => {
    throw new Error('workflow stack traces are off (WORKFLOW_STACK_TRACES=on turns them on)');
  };
  // The worker's log is JSON; the main thread says once that stack traces are off.
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(SDK_NOTICE)) return;
    warn(...args);
  };
}
