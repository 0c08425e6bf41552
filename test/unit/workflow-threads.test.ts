import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PRELOADS } from '../../tools/stack/stack.js';

/** A child process running `script` (test/support/workflow-thread-*.ts) with the worker's preload. */
function run(env: Record<string, string>, script = 'test/support/workflow-thread-watch.ts'): unknown {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', ...PRELOADS.worker!.flatMap((preload) => ['--import', preload]), script],
    { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 },
  );
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!);
}

describe("the worker's workflow-thread preload", () => {
  it('replaces the per-call vm timeout with a watch that reports a call running past its limit', () => {
    expect(run({ LIMIT_MS: '300' })).toEqual({
      stuck: { threadId: expect.any(Number), runningMs: expect.any(Number), limitMs: 300 },
    });
  });

  it('reports nothing for calls that end within their limit', () => {
    expect(run({ LIMIT_MS: '1000', RUN_MS: '100' })).toEqual({ finished: true });
  });

  it("keeps the SDK's own detection with WORKFLOW_DEADLOCK_DETECTION=sdk: the call times out in its thread", () => {
    expect(run({ LIMIT_MS: '300', WORKFLOW_DEADLOCK_DETECTION: 'sdk' })).toEqual({
      threw: expect.stringMatching(/timed out after 300ms/),
    });
  });

  const hooks = 'test/support/workflow-thread-hooks.ts';

  it("refuses only the SDK's stack-trace promise hook: Node's own async_hooks still work in the thread", () => {
    expect(run({}, hooks)).toEqual({ sdkPromiseHook: false, store: 'update-scope' });
  });

  it('lets the SDK install its promise hook with WORKFLOW_STACK_TRACES=on', () => {
    expect(run({ WORKFLOW_STACK_TRACES: 'on' }, hooks)).toEqual({
      sdkPromiseHook: true,
      store: 'update-scope',
    });
  });
});
