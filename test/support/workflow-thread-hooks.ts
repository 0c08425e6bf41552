/**
 * Run by test/unit/workflow-threads.test.ts as its own process, with the worker's preload
 * (src/worker/workflow-threads.ts). In a worker thread, as in a workflow thread: the SDK installs
 * its global handlers (its stack-trace promise hook among them), then an `AsyncLocalStorage`
 * keeps its store across an await, as the SDK's update scopes need (on Node 22 that takes a
 * promise hook of Node's own). Prints what the thread saw as one JSON line.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
// The SDK's own installer (no public export): the preload must recognise exactly this call.
import { GlobalHandlers } from '@temporalio/worker/lib/workflow/vm-shared.js';

if (isMainThread) {
  const thread = new Worker(new URL(import.meta.url));
  thread.on('message', (message) => {
    console.log(JSON.stringify(message));
    process.exit(0);
  });
  thread.on('error', (error) => {
    console.log(JSON.stringify({ error: error.message }));
    process.exit(0);
  });
} else {
  const handlers = new GlobalHandlers();
  handlers.install();
  const storage = new AsyncLocalStorage<string>();
  const store = await storage.run('update-scope', async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    return storage.getStore();
  });
  parentPort!.postMessage({ sdkPromiseHook: handlers.promiseHookInstalled, store });
}
