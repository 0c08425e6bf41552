import { describe, expect, it } from 'vitest';
import { Supervisor, type Running } from '../../tools/stack/supervisor.js';

/** A component whose instances end when the test says so, like a process that crashes. */
function crashable(name: string) {
  const instances: { crash: (code: number) => void; stopped: boolean }[] = [];
  const component = {
    name,
    async start(): Promise<Running> {
      let end!: (code: number) => void;
      const exited = new Promise<number>((resolve) => (end = resolve));
      const instance = { crash: end, stopped: false };
      instances.push(instance);
      return {
        pid: undefined,
        exited,
        stop: async () => {
          instance.stopped = true;
          end(0);
        },
      };
    },
  };
  return { component, instances };
}

describe('supervisor (what npm run dev runs its processes under)', () => {
  it('restarts a crashed component after a backoff, and the others keep running', async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor({
      autoRestart: true,
      backoff: { initialMs: 50, maxMs: 200, resetAfterMs: 10_000 },
      log: (line) => lines.push(line),
    });
    const worker = crashable('worker');
    const api = crashable('api');
    await supervisor.add(worker.component);
    await supervisor.add(api.component);

    worker.instances[0]!.crash(137);
    await expect.poll(() => worker.instances.length, { timeout: 2_000 }).toBe(2);
    worker.instances[1]!.crash(1);
    await expect.poll(() => worker.instances.length, { timeout: 2_000 }).toBe(3);
    expect(api.instances).toHaveLength(1);
    expect(api.instances[0]!.stopped).toBe(false);
    expect(lines.some((l) => /worker exited with code 137 \(SIGKILL\); restarting in/.test(l))).toBe(true);

    await supervisor.stop([['worker', 'api']]);
    expect(worker.instances.at(-1)!.stopped).toBe(true);
    expect(api.instances[0]!.stopped).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(worker.instances).toHaveLength(3); // a stop is not a crash: nothing restarts
  });
});
