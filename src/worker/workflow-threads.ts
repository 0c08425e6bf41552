/**
 * Preloaded into the worker process (`node --import ./dist/src/worker/workflow-threads.js` from
 * the build; from source after tsx, `--import tsx --import ./src/worker/workflow-threads.ts`), so
 * Node also runs it first in each of the Temporal SDK's workflow threads, before the SDK sets
 * them up. Two of the SDK's per-workflow costs are replaced there by cheaper equivalents; the
 * main thread only watches.
 *
 * Stack traces. The SDK collects workflow stack traces through a V8 promise hook that captures
 * and source-maps a stack trace for every promise a workflow creates, whether anyone asks or not:
 * on 2 cores it was about a quarter of the worker's CPU per wallet payment. Unless
 * `WORKFLOW_STACK_TRACES=on` the hook is not installed, and the SDK runs as on runtimes without
 * promise hooks, which it supports: workflows run the same, and only the Web UI's "Stack Trace"
 * tab (the `__stack_trace` query) answers that stack traces are not enabled. The event history,
 * `GET /v1/payments/{id}/timeline` and the logs still say where a payment stands.
 *
 * Deadlock detection. The SDK runs each call into the workflow sandbox (several per activation)
 * with `vm`'s `timeout`, which starts and joins a watchdog thread for every call, to stop
 * workflow code that never yields. Here the calls run without it, and one watch per workflow
 * thread does the same job: the thread notes in shared memory when a call started, and the main
 * thread (`watchWorkflowThreads`) checks twice a second. Workflow code that runs past the
 * SDK's limit (5 s) without yielding is a bug that would hold every workflow of the worker; the
 * worker then logs it and exits, to be restarted (its supervisor, or the orchestrator), rather
 * than failing that one workflow task as the SDK does and going on. `WORKFLOW_DEADLOCK_DETECTION=sdk`
 * keeps the SDK's own detection. Measured, the per-call threads cost the worker 4.5 ms of CPU per
 * card payment at 20/s and doubled p50 at 30/s (bench/README.md).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

/** The line the SDK prints (to the console, not the log) when it finds no promise hooks. */
const SDK_NOTICE = 'v8.promiseHooks.createHook is not available';
/** The SDK's method that installs its stack-trace promise hook (@temporalio/worker, vm-shared). */
const SDK_HOOK_INSTALLER = 'setPromiseHook';
const WATCH_CHANNEL = 'paysaga:workflow-thread-watch';
/** How often the main thread looks at the workflow threads. */
const WATCH_EVERY_MS = 500;

export function stackTracesWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WORKFLOW_STACK_TRACES === 'on';
}

/** Whether the SDK's per-call watchdog is replaced by one watch per workflow thread. */
export function threadWatchWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WORKFLOW_DEADLOCK_DETECTION !== 'sdk';
}

/** A workflow thread's call into the sandbox: [start (epoch ms, 0 between calls), limit ms]. */
interface WatchNotice {
  threadId: number;
  call: SharedArrayBuffer;
}

export interface StuckCall {
  threadId: number;
  runningMs: number;
  limitMs: number;
}

/**
 * In the main thread: calls `onStuck` (once) when a call into a workflow sandbox has run longer
 * than its limit. Returns a function that stops watching.
 */
export function watchWorkflowThreads(onStuck: (stuck: StuckCall) => void): () => void {
  const calls = new Map<number, Float64Array>();
  const channel = new BroadcastChannel(WATCH_CHANNEL);
  channel.onmessage = (event) => {
    const notice = (event as { data: WatchNotice }).data;
    calls.set(notice.threadId, new Float64Array(notice.call));
  };
  channel.unref();
  let reported = false;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [id, call] of calls) {
      const started = call[0]!;
      const limitMs = call[1]!;
      if (reported || started === 0 || now - started <= limitMs) continue;
      reported = true;
      onStuck({ threadId: id, runningMs: now - started, limitMs });
    }
  }, WATCH_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    channel.close();
  };
}

/** In a workflow thread: `vm` calls lose their `timeout`, and each call is noted for the watch. */
function replaceCallWatchdogs(): void {
  const buffer = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
  const call = new Float64Array(buffer);
  let depth = 0;
  const watched = <T>(options: unknown, run: (rest: unknown) => T): T => {
    if (!options || typeof options !== 'object' || !('timeout' in options)) return run(options);
    const { timeout, ...rest } = options as { timeout?: unknown };
    if (depth++ === 0) {
      call[1] = typeof timeout === 'number' ? timeout : 5_000;
      call[0] = Date.now();
    }
    try {
      return run(rest);
    } finally {
      if (--depth === 0) call[0] = 0;
    }
  };
  // The SDK calls these two (its sandboxes' scripts); both keep their results' types.
  const script = vm.Script.prototype;
  const runScript: (this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) => unknown =
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its script below
    script.runInContext;
  script.runInContext = function (this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) {
    return watched(options, (rest) => runScript.call(this, context, rest as vm.RunningScriptOptions));
  } as typeof script.runInContext;
  const runCode: (code: string, context: vm.Context, options?: vm.RunningCodeOptions) => unknown =
    vm.runInContext;
  vm.runInContext = ((code: string, context: vm.Context, options?: vm.RunningCodeOptions) =>
    watched(options, (rest) =>
      runCode(code, context, rest as vm.RunningCodeOptions),
    )) as typeof vm.runInContext;
  const channel = new BroadcastChannel(WATCH_CHANNEL);
  channel.postMessage({ threadId, call: buffer } satisfies WatchNotice);
  channel.close();
}

/**
 * The SDK's promise hook is refused; any other caller is served. Node's own async_hooks create
 * their promise hook through this same function: on Node 22 the SDK's `AsyncLocalStorage` (the
 * scope of every update handler) enables one, and refusing it failed every update.
 */
function refuseSdkPromiseHook(): void {
  const createHook = v8.promiseHooks.createHook;
  v8.promiseHooks.createHook = (hooks) => {
    if (new Error().stack?.includes(SDK_HOOK_INSTALLER)) {
      throw new Error('workflow stack traces are off (WORKFLOW_STACK_TRACES=on turns them on)');
    }
    return createHook(hooks);
  };
}

if (!isMainThread && !stackTracesWanted()) {
  refuseSdkPromiseHook();
  // The worker's log is JSON; the main thread says once that stack traces are off.
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(SDK_NOTICE)) return;
    warn(...args);
  };
}
if (!isMainThread && threadWatchWanted()) replaceCallWatchdogs();
