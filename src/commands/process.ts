import { unavailableDependency } from '../app/dependencies.js';
import { AppError, isRetryable } from '../app/errors.js';
import { interpret, type Inbound } from '../profiles/profile.js';
import type { CommandHandler } from './handler.js';
import { claimedTenant, parseBody, parseCommand } from './messages.js';
import { authenticate, type CommandDelivery, type CommandTrust } from './trust.js';

/** What the consumer does for the sources of integration profiles (src/profiles/). */
export interface ProfileSources {
  /** The inbound binding that reads this topic / queue, if a profile's does. */
  inboundFor(broker: CommandDelivery['broker'], source: string): Inbound | undefined;
  /** The resource a message with this idempotency key started before, if any. */
  seen(inbound: Inbound, key: string): Promise<string | undefined>;
  record(inbound: Inbound, key: string, resourceId: string): Promise<void>;
  /** Publishes the ended payment's result again through the profile's outbound bindings. */
  republish(inbound: Inbound, paymentId: string): Promise<void>;
}

export interface ProcessDeps {
  handler: Pick<CommandHandler, 'handle'>;
  trust: CommandTrust;
  profiles?: ProfileSources | undefined;
  /**
   * Whether PostgreSQL and Temporal answer now: tells a command that keeps failing on its own
   * (dead-lettered after `maxAttempts`) from an outage of a dependency (held, however long).
   */
  dependenciesUp: () => Promise<boolean>;
  maxAttempts: number;
  log: (line: string) => void;
  signal: AbortSignal;
  /** Between two attempts: doubling from `initialMs` to `maxMs` (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number } | undefined;
}

export type Settled = 'started' | 'dead-lettered' | 'stopped';

const BACKOFF = { initialMs: 500, maxMs: 10_000 };

/**
 * One command message, to its end: started, or dead-lettered with the reason (both mean the
 * message may be acknowledged), or `stopped` when the consumer shuts down first (then it must
 * not be: the broker delivers it again). In order: the body is read (size, strict JSON), the
 * sender authenticated (trust.ts), the command validated, then started.
 *
 * Starting it is retried in place with backoff. A failure that says a dependency is down
 * (PostgreSQL or Temporal unreachable, a refusal of kind `unavailable` or `limited`) is an outage: the message is held as long as
 * it lasts, never dead-lettered. Any other failure counts; after `maxAttempts` of them, and only
 * if PostgreSQL and Temporal both answer at that moment, the command is the problem: it goes to
 * the dead-letter queue with the last error, and the messages behind it move on.
 */
export async function settleCommand(
  delivery: CommandDelivery,
  deadLetter: (reason: string) => Promise<void>,
  deps: ProcessDeps,
): Promise<Settled> {
  const deadLettered = async (what: string, reason: string): Promise<Settled> => {
    const sent = await untilDone(() => deadLetter(reason), deps);
    if (!sent) return 'stopped';
    deps.log(`dead-lettered ${what} from ${delivery.source}: ${reason}`);
    return 'dead-lettered';
  };
  const body = parseBody(delivery.body);
  if (!body.ok) return deadLettered('an invalid command', body.reason);
  const inbound = deps.profiles?.inboundFor(delivery.broker, delivery.source);
  if (inbound) return settleProfileMessage(inbound, body.json, deadLettered, deps);
  const tenant = authenticate(deps.trust, delivery, claimedTenant(body.json), Math.floor(Date.now() / 1000));
  if (!tenant.ok) return deadLettered('an unauthenticated command', tenant.reason);
  const parsed = parseCommand(body.json, delivery.type);
  if (!parsed.ok) return deadLettered('an invalid command', parsed.reason);
  const outcome = await attempt(() => deps.handler.handle(parsed.command, tenant.tenantId), deps);
  if (outcome.kind === 'stopped') return 'stopped';
  if (outcome.kind === 'failed') return deadLettered(parsed.command.type, outcome.reason);
  if (outcome.value.kind === 'rejected') return deadLettered(parsed.command.type, outcome.value.reason);
  return 'started';
}

/**
 * A system's own message on a profile's source: mapped to a command by the binding, validated as
 * the HTTP API validates, and started for the binding's tenant (a message cannot name another).
 * A message whose idempotency key was seen is not started again; when the binding asks for it,
 * the result of an ended payment is published again, for a duplicate and for a message about an
 * order that has ended.
 */
async function settleProfileMessage(
  inbound: Inbound,
  json: unknown,
  deadLettered: (what: string, reason: string) => Promise<Settled>,
  deps: ProcessDeps,
): Promise<Settled> {
  const profiles = deps.profiles!;
  const { binding, profile } = inbound;
  const what = `a ${profile.name}/${binding.name} message`;
  const interpreted = await interpret(inbound, json);
  if (!interpreted.ok) return deadLettered(what, `unmappable: ${interpreted.reason}`);
  const { idempotencyKey } = interpreted;
  const body = interpreted.body as Record<string, unknown>;
  const parsed = parseCommand({
    ...(interpreted.command === 'refund.create' && idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...body,
    type: interpreted.command,
    tenantId: profile.tenantId,
  });
  if (!parsed.ok)
    return deadLettered(what, `the ${interpreted.command} it maps to is invalid: ${parsed.reason}`);
  let resource: string | undefined;
  let ended = false;
  if (idempotencyKey !== undefined) {
    const seen = await attempt(() => profiles.seen(inbound, idempotencyKey), deps);
    if (seen.kind === 'stopped') return 'stopped';
    if (seen.kind === 'done' && seen.value !== undefined) {
      resource = seen.value;
      ended = true;
      deps.log(`${what} with key ${idempotencyKey} was seen before (${resource})`);
    }
  }
  if (resource === undefined) {
    const origin = { profile: profile.name, singleAttempt: binding.attempts === 'single' };
    const outcome = await attempt(() => deps.handler.handle(parsed.command, profile.tenantId, origin), deps);
    if (outcome.kind === 'stopped') return 'stopped';
    if (outcome.kind === 'failed') return deadLettered(what, outcome.reason);
    if (outcome.value.kind === 'rejected') return deadLettered(what, outcome.value.reason);
    resource = outcome.value.resource;
    ended = outcome.value.ended ?? false;
    if (idempotencyKey !== undefined) {
      const started = resource;
      const recorded = await untilDone(() => profiles.record(inbound, idempotencyKey, started), deps);
      if (!recorded) return 'stopped';
    }
  }
  if (ended && binding.onDuplicate === 'republish' && resource.startsWith('pay_')) {
    const paymentId = resource;
    const republished = await untilDone(() => profiles.republish(inbound, paymentId), deps);
    if (!republished) return 'stopped';
  }
  return 'started';
}

/** A failure that says a dependency is down for everyone, not that this command is bad. */
function isOutage(error: unknown): boolean {
  if (error instanceof AppError) return isRetryable(error.kind);
  return unavailableDependency(error) !== undefined;
}

type Attempted<T> = { kind: 'done'; value: T } | { kind: 'failed'; reason: string } | { kind: 'stopped' };

async function attempt<T>(fn: () => Promise<T>, deps: ProcessDeps): Promise<Attempted<T>> {
  const backoff = deps.backoff ?? BACKOFF;
  let failures = 0;
  for (let delay = backoff.initialMs; !deps.signal.aborted; delay = Math.min(delay * 2, backoff.maxMs)) {
    try {
      return { kind: 'done', value: await fn() };
    } catch (error) {
      const message = (error as Error).message;
      if (!isOutage(error)) failures++;
      if (failures >= deps.maxAttempts && (await deps.dependenciesUp()))
        return {
          kind: 'failed',
          reason: `failed ${failures} times with PostgreSQL and Temporal up: ${message}`,
        };
      deps.log(`command not settled, retrying in ${delay} ms: ${message}`);
      await pause(delay, deps.signal);
    }
  }
  return { kind: 'stopped' };
}

/** Retries `fn` with backoff until it succeeds (true) or the consumer stops (false). */
async function untilDone(fn: () => Promise<void>, deps: ProcessDeps): Promise<boolean> {
  const backoff = deps.backoff ?? BACKOFF;
  for (let delay = backoff.initialMs; !deps.signal.aborted; delay = Math.min(delay * 2, backoff.maxMs)) {
    try {
      await fn();
      return true;
    } catch (error) {
      deps.log(`dead letter not sent, retrying in ${delay} ms: ${(error as Error).message}`);
      await pause(delay, deps.signal);
    }
  }
  return false;
}

/**
 * Runs a broker session again whenever it ends or fails (a broker restart, a lost connection),
 * with backoff, until the consumer stops. Unsettled messages are the broker's to redeliver.
 */
export async function untilStopped(
  name: string,
  session: () => Promise<void>,
  deps: Pick<ProcessDeps, 'log' | 'signal'>,
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
