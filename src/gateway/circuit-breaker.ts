/**
 * A circuit breaker per connector account, kept by each worker process: when too many of the
 * recent calls to a connector failed for the gateway's reasons (no answer, 5xx, 429), new
 * authorizations are not sent to it for a while, and a payment with a fallback connector moves
 * there at once instead of spending its retries on a dead gateway. After the pause one call at a
 * time probes it (half open); a success closes the circuit, a failure opens it again.
 *
 * Declines are successes here: the gateway answered. Only authorizations are held back; captures,
 * voids and refunds must reach the connector that authorized, so they keep retrying.
 */
export interface CircuitBreakerOptions {
  /** The window the error rate is taken over. */
  windowMs: number;
  /** Fewer calls than this in the window never open the circuit. */
  minimumCalls: number;
  /** The share of failed calls in the window (0..1] that opens it. */
  failureRate: number;
  /** How long it stays open before a probe. */
  openMs: number;
  now?: () => number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

export const DEFAULT_CIRCUIT: CircuitBreakerOptions = {
  windowMs: 30_000,
  minimumCalls: 5,
  failureRate: 0.5,
  openMs: 15_000,
};

export class CircuitBreaker {
  /** Outcomes in the window, oldest first: [time, failed]. */
  private readonly calls: [number, boolean][] = [];
  private openedAt: number | undefined;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT) {
    this.now = options.now ?? Date.now;
  }

  state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.openMs ? 'half_open' : 'open';
  }

  /**
   * Whether a call may go now. In half-open state one call is let through at a time; the caller
   * must `record` its outcome.
   */
  allow(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  record(failed: boolean): void {
    const now = this.now();
    if (this.openedAt !== undefined) {
      // Only the probe's outcome decides (calls sent before the circuit opened are ignored).
      if (!this.probing) return;
      this.probing = false;
      if (failed) this.openedAt = now;
      else this.close();
      return;
    }
    this.calls.push([now, failed]);
    while (this.calls.length > 0 && now - (this.calls[0]?.[0] ?? now) > this.options.windowMs)
      this.calls.shift();
    const failures = this.calls.filter(([, f]) => f).length;
    if (
      this.calls.length >= this.options.minimumCalls &&
      failures / this.calls.length >= this.options.failureRate
    )
      this.openedAt = now;
  }

  private close(): void {
    this.openedAt = undefined;
    this.calls.length = 0;
  }
}

/** One breaker per key (connector and account), made on first use. */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT) {}

  for(key: string): CircuitBreaker {
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  states(): { key: string; state: CircuitState }[] {
    return [...this.breakers].map(([key, breaker]) => ({ key, state: breaker.state() }));
  }
}
