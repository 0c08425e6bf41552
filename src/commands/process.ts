import type { CommandHandler } from './handler.js';
import { parseCommand } from './messages.js';

export interface ProcessDeps {
  handler: CommandHandler;
  log: (line: string) => void;
  signal: AbortSignal;
}

export type Settled = 'started' | 'dead-lettered' | 'stopped';

/**
 * One command message, to its end: started, or dead-lettered with the reason (both mean the
 * message may be acknowledged), or `stopped` when the consumer shuts down first (then it must
 * not be: the broker delivers it again). A transient failure (Temporal or PostgreSQL down) is
 * retried here with backoff, so the message keeps its place.
 */
export async function settleCommand(
  body: Buffer | string,
  transportType: string | undefined,
  deadLetter: (reason: string) => Promise<void>,
  deps: ProcessDeps,
): Promise<Settled> {
  const deadLettered = async (what: string, reason: string): Promise<Settled> => {
    const sent = await retrying(async () => {
      await deadLetter(reason);
      return true;
    }, deps);
    if (!sent) return 'stopped';
    deps.log(`dead-lettered ${what}: ${reason}`);
    return 'dead-lettered';
  };
  const parsed = parseCommand(body, transportType);
  if (!parsed.ok) return deadLettered('an invalid command', parsed.reason);
  const outcome = await retrying(() => deps.handler.handle(parsed.command), deps);
  if (!outcome) return 'stopped';
  if (outcome.kind === 'rejected') return deadLettered(parsed.command.type, outcome.reason);
  return 'started';
}

async function retrying<T>(fn: () => Promise<T>, deps: ProcessDeps): Promise<T | undefined> {
  for (let delay = 500; !deps.signal.aborted; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await fn();
    } catch (error) {
      deps.log(`command not settled, retrying in ${delay} ms: ${(error as Error).message}`);
      await pause(delay, deps.signal);
    }
  }
  return undefined;
}

/**
 * Runs a broker session again whenever it ends or fails (a broker restart, a lost connection),
 * with backoff, until the consumer stops. Unsettled messages are the broker's to redeliver.
 */
export async function untilStopped(
  name: string,
  session: () => Promise<void>,
  deps: ProcessDeps,
): Promise<void> {
  for (let delay = 500; !deps.signal.aborted; delay = Math.min(delay * 2, 10_000)) {
    const started = Date.now();
    try {
      await session();
    } catch (error) {
      if (deps.signal.aborted) break;
      deps.log(`${name}: ${(error as Error).message}`);
    }
    if (deps.signal.aborted) break;
    if (Date.now() - started > 30_000) delay = 500;
    deps.log(`${name}: reconnecting in ${delay} ms`);
    await pause(delay, deps.signal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
