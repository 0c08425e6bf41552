/**
 * Keeps the stack's components running: a component that exits on its own is started again after
 * an exponential backoff, so one crash does not take the rest down. Chaos tests use `kill` and
 * `restart` to crash a component on purpose and wait until it serves again.
 */
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** A started instance of a component. */
export interface Running {
  /** The OS process to signal; undefined when the component cannot be killed from outside. */
  pid: number | undefined;
  /** Resolves with the exit code when the instance ends, however it ends (see `exitCode`). */
  exited: Promise<number>;
  /** Graceful stop; resolves once the instance is gone. */
  stop(): Promise<void>;
}

export interface Component {
  name: string;
  /** Starts an instance and resolves once it serves (rejects if it cannot). */
  start(): Promise<Running>;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** An instance that stayed up this long resets the delay to `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, resetAfterMs: 30_000 };

export interface SupervisorOptions {
  /** Restart components that exit on their own; without it only `restart()` starts them again. */
  autoRestart: boolean;
  backoff?: Partial<Backoff>;
  log: (line: string) => void;
  /** Called for every exit that was not asked for by `stop()`. */
  onExit?: (name: string, code: number) => void;
  /** Called each time a component serves again after an exit. */
  onRestarted?: (name: string) => void;
}

interface Slot {
  component: Component;
  running: Running | undefined;
  upSince: number;
  delayMs: number;
  /** Set while an exit is being handled: restarts wait on it. */
  recovering: Promise<void> | undefined;
  restartRequested: boolean;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private readonly backoff: Backoff;
  private stopping = false;
  private readonly wake = new AbortController();
  /** First starts under way: stop() waits for them, and they stop themselves once they see it. */
  private readonly firstStarts = new Set<Promise<Running>>();

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  /** Starts the component the first time; a failure here is the caller's (no retry). */
  async add<R extends Running>(component: { name: string; start(): Promise<R> }): Promise<R> {
    if (this.slots.has(component.name)) throw new Error(`component ${component.name} already exists`);
    const slot: Slot = {
      component,
      running: undefined,
      upSince: Date.now(),
      delayMs: this.backoff.initialMs,
      recovering: undefined,
      restartRequested: false,
    };
    this.slots.set(component.name, slot);
    const attempt = (async () => {
      const running = await component.start();
      if (this.stopping) {
        // stop() ran while this first start was under way and could not see it.
        await running.stop().catch(() => undefined);
        throw new Error(`${component.name} started after the stack was stopped`);
      }
      this.watch(slot, running);
      return running;
    })();
    this.firstStarts.add(attempt);
    try {
      return await attempt;
    } finally {
      this.firstStarts.delete(attempt);
    }
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  current(name: string): Running | undefined {
    return this.slot(name).running;
  }

  /** Sends a signal to the component's process as it runs now (SIGKILL: a crash). */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const pid = this.slot(name).running?.pid;
    if (pid === undefined) throw new Error(`${name} has no process to signal`);
    process.kill(pid, signal);
  }

  /** Crashes the component with `signal` and resolves once a new instance serves. */
  async restart(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const slot = this.slot(name);
    const running = slot.running;
    if (!running) throw new Error(`${name} is not running`);
    slot.restartRequested = true;
    this.kill(name, signal);
    await running.exited;
    // The exit handler runs on the same tick as `exited` settles; give it that tick.
    await Promise.resolve();
    await slot.recovering;
    if (!slot.running) throw new Error(`${name} did not come back`);
  }

  /** Stops every component in the given order of groups (a group stops in parallel). */
  async stop(order: string[][]): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await Promise.allSettled([...this.firstStarts]);
    const named = new Set(order.flat());
    const groups = [...order, [...this.slots.keys()].filter((name) => !named.has(name))];
    for (const group of groups) {
      await Promise.all(
        group.map(async (name) => {
          const slot = this.slots.get(name);
          await slot?.recovering?.catch(() => undefined);
          await slot?.running?.stop().catch(() => undefined);
        }),
      );
    }
  }

  private slot(name: string): Slot {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no component named ${name}`);
    return slot;
  }

  private watch(slot: Slot, running: Running): void {
    slot.running = running;
    slot.upSince = Date.now();
    void running.exited.then((code) => {
      if (slot.running !== running || this.stopping) return;
      slot.running = undefined;
      this.options.onExit?.(slot.component.name, code);
      if (!this.options.autoRestart && !slot.restartRequested) return;
      slot.recovering = this.recover(slot, code).finally(() => {
        slot.recovering = undefined;
        slot.restartRequested = false;
      });
    });
  }

  /** Starts the component again until it serves or the supervisor stops. */
  private async recover(slot: Slot, firstCode: number): Promise<void> {
    const { name } = slot.component;
    if (Date.now() - slot.upSince >= this.backoff.resetAfterMs) slot.delayMs = this.backoff.initialMs;
    let reason = `exited with code ${describeExit(firstCode)}`;
    while (!this.stopping) {
      const delay = slot.delayMs;
      slot.delayMs = Math.min(this.backoff.maxMs, delay * 2);
      this.options.log(`${name} ${reason}; restarting in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, undefined, { signal: this.wake.signal }).catch(() => undefined);
      if (this.stopping) return;
      try {
        const running = await slot.component.start();
        if (this.stopping) {
          await running.stop().catch(() => undefined);
          return;
        }
        this.options.log(`${name} is back`);
        this.watch(slot, running);
        this.options.onRestarted?.(name);
        return;
      } catch (error) {
        reason = `failed to start (${firstLine(error)})`;
      }
    }
  }
}

/** A process killed by a signal reports 128 + its number, as a shell does (SIGKILL: 137). */
export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

function describeExit(code: number): string {
  const signal = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
  return code > 128 && signal ? `${code} (${signal})` : String(code);
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : 'no reason given';
  return text.split('\n')[0] ?? '';
}
