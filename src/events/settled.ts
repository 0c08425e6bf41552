import { isSettled, type PaymentView } from '../domain/payment.js';

/** A wait for one payment's first settled state (`stop` when no longer waiting). */
export interface SettledWatch {
  readonly settled: Promise<PaymentView>;
  stop(): void;
}

/**
 * The payment states this process's worker writes, handed to requests of the same process that
 * wait for them: the co-located mode (API and worker in one process, src/colocated/main.ts).
 * There a waiting payment is started eagerly: Temporal answers the start with the workflow's
 * first task, which this process's worker runs at once (no matching round trip). A wallet
 * payment settles in that task, in one local activity, and the activity's write is the answer;
 * the request asks Temporal nothing more.
 *
 * A payment state is written to PostgreSQL before the workflow shows it, as a GET reads it.
 */
export class SettledPayments {
  readonly #waiting = new Map<string, Set<(view: PaymentView) => void>>();

  /** Waits for `paymentId`'s first settled state from now: call it before starting the payment. */
  watch(paymentId: string): SettledWatch {
    let listener!: (view: PaymentView) => void;
    const settled = new Promise<PaymentView>((resolve) => {
      listener = resolve;
    });
    const listeners = this.#waiting.get(paymentId) ?? new Set();
    listeners.add(listener);
    this.#waiting.set(paymentId, listeners);
    return {
      settled,
      stop: () => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.#waiting.get(paymentId) === listeners)
          this.#waiting.delete(paymentId);
      },
    };
  }

  /** A payment state written here: a settled one ends the waits for its payment. */
  recorded(view: PaymentView): void {
    if (isSettled(view.status)) this.#answer(view.id, view);
  }

  /**
   * The run of payment `paymentId` found an earlier run's stored payment and ends with it (what
   * its workflow answers too, whatever that payment's status).
   */
  yielded(paymentId: string, stored: PaymentView): void {
    this.#answer(paymentId, stored);
  }

  #answer(paymentId: string, view: PaymentView): void {
    const listeners = this.#waiting.get(paymentId);
    if (!listeners) return;
    this.#waiting.delete(paymentId);
    for (const listener of listeners) listener(view);
  }

  /** How many payments are waited for (a leak shows here). */
  get size(): number {
    return this.#waiting.size;
  }
}
