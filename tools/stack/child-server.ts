import { spawn, type SpawnOptions } from 'node:child_process';
import { exitCode, type Running } from './supervisor.js';
import { stopChild } from './temporal-dev-server.js';

export interface ChildServerOptions {
  name: string;
  command: string;
  args: string[];
  env?: SpawnOptions['env'];
  /** The line that says the server serves. */
  ready: RegExp;
  /** Lines worth passing on while it runs (its warnings and errors). */
  notable: RegExp;
  log: (line: string) => void;
  timeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL. */
  stopGraceMs?: number;
}

/**
 * Spawns a server process (a broker) and resolves once it prints its ready line. It dies with
 * this process; if it exits or stays silent first, the error carries its last lines.
 */
export async function startChildServer(options: ChildServerOptions): Promise<Running> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const graceMs = options.stopGraceMs ?? 10_000;
  const child = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(exitCode(code, signal))),
  );
  const lines: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`${options.name} did not start within ${timeoutMs / 1000} s:\n${lines.join('\n')}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(line);
        if (lines.length > 20) lines.shift();
        if (options.notable.test(line)) options.log(line);
        if (options.ready.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with code ${code} while starting:\n${lines.join('\n')}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    await stopChild(child, graceMs);
    throw error;
  }
  return { pid: child.pid, exited, stop: () => stopChild(child, graceMs) };
}
