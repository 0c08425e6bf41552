import { isGrpcDeadlineError, isGrpcServiceError } from '@temporalio/client';
import { AppError } from './errors.js';

export type Dependency = 'postgres' | 'temporal';

const GRPC_UNAVAILABLE = 14;

/** PostgreSQL connection-level failures: the server is down, restarting or unreachable. */
const PG_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e && typeof e === 'object' && chain.length < 5; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  return chain;
}

function isPostgresDown(error: unknown): boolean {
  return causes(error).some((e) => {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (PG_CONNECTION_CODES.has(code) || /^(08|57P0)/.test(code))) return true;
    return (
      typeof message === 'string' &&
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
        message,
      )
    );
  });
}

/**
 * Temporal's answer to an update-with-start whose start did not happen after all: it found the
 * workflow created meanwhile (by a concurrent request for the order, or by this request's own
 * earlier attempt). UNAVAILABLE by its code, meaning "retry from the top", but Temporal answered:
 * not an outage. The SDK's own retries resend the same request id, which, once that workflow has
 * closed, gets this answer again every time; a new call does not (see `retryingStartRaces`).
 */
export function isStartRace(error: unknown): boolean {
  return isGrpcUnavailable(error) && error.message.startsWith('Workflow was not started');
}

function isGrpcUnavailable(error: unknown): error is Error {
  return isGrpcServiceError(error) && Number(error.code) === GRPC_UNAVAILABLE;
}

function isTemporalDown(error: unknown): boolean {
  return causes(error).some(
    (e) => !isStartRace(e) && (isGrpcUnavailable(e) || /UNAVAILABLE|ECONNREFUSED/.test(String(e))),
  );
}

/** A dependency that is down: refused or dropped the connection. */
export function outageOf(error: unknown): Dependency | undefined {
  if (error instanceof DependencyUnavailableError) return error.dependency;
  if (isPostgresDown(error)) return 'postgres';
  if (isTemporalDown(error)) return 'temporal';
  return undefined;
}

/** Which dependency an error says is unavailable (down, or not answering within its deadline). */
export function unavailableDependency(error: unknown): Dependency | undefined {
  return outageOf(error) ?? (isGrpcDeadlineError(error) ? 'temporal' : undefined);
}

export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly retryAfterSeconds: number,
  ) {
    super(`${dependency} is unavailable`);
  }
}

/** The refusal a caller gets while a dependency is down: retry later, with the same Idempotency-Key. */
export function unavailableError(error: unknown): AppError | undefined {
  const dependency = unavailableDependency(error);
  if (!dependency) return undefined;
  const retryAfterSeconds = error instanceof DependencyUnavailableError ? error.retryAfterSeconds : 2;
  return new AppError(
    'unavailable',
    'service_unavailable',
    `a dependency (${dependency}) is not reachable; retry with the same Idempotency-Key`,
    { extensions: { dependency }, retryAfterSeconds, cause: error },
  );
}

export interface CircuitState {
  state: 'closed' | 'open' | 'half_open';
  consecutiveFailures: number;
  openedAt?: string | undefined;
}

/**
 * A circuit breaker per dependency. After `threshold` consecutive outage errors it opens: calls
 * fail at once with DependencyUnavailableError instead of waiting on a dead server, until
 * `cooldownMs` has passed and one call is let through to probe (half open).
 */
export class Circuit {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(
    readonly dependency: Dependency,
    private readonly options: { threshold: number; cooldownMs: number } = { threshold: 2, cooldownMs: 2_000 },
  ) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.openedAt !== undefined) {
      const waited = Date.now() - this.openedAt;
      if (waited < this.options.cooldownMs || this.probing) {
        const seconds = Math.max(1, Math.ceil((this.options.cooldownMs - waited) / 1000));
        throw new DependencyUnavailableError(this.dependency, seconds);
      }
      this.probing = true;
    }
    try {
      const result = await call();
      this.succeeded();
      return result;
    } catch (error) {
      // A deadline is not an outage: the server may be up with no worker polling.
      if (outageOf(error) === this.dependency) this.failed();
      else this.succeeded(); // the dependency answered, even if with an error
      throw error;
    } finally {
      this.probing = false;
    }
  }

  succeeded(): void {
    this.failures = 0;
    this.openedAt = undefined;
  }

  failed(): void {
    this.failures++;
    if (this.failures >= this.options.threshold || this.openedAt !== undefined) this.openedAt = Date.now();
  }

  get state(): CircuitState {
    const state =
      this.openedAt === undefined
        ? 'closed'
        : Date.now() - this.openedAt >= this.options.cooldownMs
          ? 'half_open'
          : 'open';
    return {
      state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAt === undefined ? undefined : new Date(this.openedAt).toISOString(),
    };
  }
}
