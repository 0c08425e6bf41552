/**
 * Run by test/unit/workflow-threads.test.ts as its own process, with the worker's preload
 * (src/worker/workflow-threads.ts): a thread runs a `vm` call with a timeout of LIMIT_MS that
 * takes RUN_MS (forever when unset), as the SDK calls into a workflow sandbox. Prints what the
 * main thread's watch saw, or how the thread's call ended, as one JSON line.
 */
import vm from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { watchWorkflowThreads } from '../../src/worker/workflow-threads.js';

const limitMs = Number(process.env.LIMIT_MS ?? 300);
const runMs = process.env.RUN_MS;

if (isMainThread) {
  watchWorkflowThreads((stuck) => {
    console.log(JSON.stringify({ stuck }));
    process.exit(0);
  });
  const thread = new Worker(new URL(import.meta.url), { workerData: 'thread' });
  thread.on('message', (message) => {
    // Long enough for the watch to look once more after the call ended.
    setTimeout(() => {
      console.log(JSON.stringify(message));
      process.exit(0);
    }, 1_200);
  });
} else if (workerData === 'thread') {
  const loop =
    runMs === undefined
      ? 'for (;;) {}'
      : `const end = Date.now() + ${Number(runMs)}; while (Date.now() < end) {}`;
  try {
    new vm.Script(loop).runInContext(vm.createContext({}), { timeout: limitMs });
    parentPort!.postMessage({ finished: true });
  } catch (error) {
    parentPort!.postMessage({ threw: (error as Error).message });
  }
}
