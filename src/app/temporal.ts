import { isGrpcDeadlineError, type Client } from '@temporalio/client';
import { Circuit, isStartRace, type CircuitState } from './dependencies.js';

/** A Temporal call bounded by `deadline` (epoch ms), through the process's circuit breaker. */
export type TemporalCall = <T>(deadline: number, call: () => Promise<T>) => Promise<T>;

/**
 * The one way the application reaches Temporal: every call carries a deadline and goes through
 * a circuit breaker, so a Temporal outage answers at once with `unavailable` instead of holding
 * a request or a broker message until the client's own timeout.
 */
export class TemporalGateway {
  readonly circuit = new Circuit('temporal');

  constructor(readonly client: Client) {}

  /** `call` runs with the client, within `deadline` (epoch ms), through the breaker. */
  run<T>(deadline: number, call: (client: Client) => Promise<T>): Promise<T> {
    return this.circuit.run(() => this.client.withDeadline(deadline, () => call(this.client)));
  }

  /** The same, for code written against `TemporalCall`. */
  readonly call: TemporalCall = (deadline, call) => this.run(deadline, () => call());

  /**
   * `call` as `run` does, but `undefined` when the deadline passes first: for waits (a workflow's
   * result, an update's outcome) where still running is an answer (the work is durable and goes
   * on), not a failure.
   */
  async waitUntil<T>(deadline: number, call: (client: Client) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.run(deadline, call);
    } catch (error) {
      if (isGrpcDeadlineError(error)) return undefined;
      throw error;
    }
  }

  /**
   * Whether Temporal answers within `ms`. Not through the breaker, which exists to spare callers
   * a dead server: this is what finds out it is back, and an answer closes an open circuit at once
   * instead of waiting for the next request.
   */
  async ping(ms: number): Promise<void> {
    await this.client.withDeadline(Date.now() + ms, () => this.client.workflowService.getSystemInfo({}));
    this.circuit.succeeded();
  }

  get state(): CircuitState {
    return this.circuit.state;
  }
}

/**
 * `call` (an update-with-start, built afresh at each call so that it carries new request and
 * update ids) again when Temporal answers that its start lost a race (`isStartRace`): the next
 * call finds the workflow running and updates it, or closed and is refused as a duplicate, which
 * the caller answers from the stored payment. At most `attempts` calls.
 */
export async function retryingStartRaces<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || !isStartRace(error)) throw error;
    }
  }
}

/** The workflow has closed (or Temporal no longer knows it): a message to it finds no one. */
export function isClosedWorkflow(error: unknown): boolean {
  const text = error instanceof Error ? `${error.name} ${error.message}` : '';
  return /WorkflowNotFound|workflow execution already completed|not found/i.test(text);
}
