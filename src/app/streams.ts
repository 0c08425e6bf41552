import type { Executor } from '../db/client.js';
import { eventBySeq, eventsAfter, latestSeq, toCloudEvent } from '../db/outbox.js';
import type { CloudEvent } from '../domain/events.js';
import type { PaymentView } from '../domain/payment.js';
import type { EventHub, EventNotice, HubListener } from '../events/hub.js';
import type { PaymentService } from './payments.js';

export type { EventNotice };

/** Events read per page while a stream catches up; a shorter page means it is up to date. */
export const EVENTS_PAGE = 100;

/** The subject of a payment's events (as the outbox writes it). */
export const paymentSubject = (paymentId: string) => `payments/${paymentId}`;

/**
 * What the live streams read: the events PostgreSQL announces (one LISTEN connection per
 * process, opened by the first subscriber) and the outbox rows behind them.
 */
export class PaymentStreams {
  constructor(
    private readonly db: Executor,
    private readonly hub: EventHub,
    private readonly payments: Pick<PaymentService, 'get'>,
  ) {}

  /** Every event notice from now on (and `resync` after a reconnect); the function returned stops them. */
  subscribe(listener: HubListener): () => void {
    return this.hub.subscribe(listener);
  }

  /**
   * Where a stream starts: the cursor first, then the payment, so an event committed in between
   * is sent again after it rather than skipped.
   */
  async snapshot(tenantId: string, paymentId: string): Promise<{ seq: number; payment: PaymentView }> {
    const seq = await latestSeq(this.db, tenantId, paymentSubject(paymentId));
    return { seq, payment: await this.payments.get(tenantId, paymentId) };
  }

  /** A payment's events after `seq`, oldest first, at most {@link EVENTS_PAGE}. */
  async eventsAfter(
    tenantId: string,
    paymentId: string,
    seq: number,
  ): Promise<{ seq: number; type: string; data: unknown }[]> {
    return eventsAfter(this.db, tenantId, paymentSubject(paymentId), seq, EVENTS_PAGE);
  }

  /** The event a notice announced, as a CloudEvent. */
  async cloudEvent(seq: number): Promise<CloudEvent | undefined> {
    const row = await eventBySeq(this.db, seq);
    return row && toCloudEvent(row);
  }

  /** Closes the LISTEN connection (at shutdown). */
  close(): Promise<void> {
    return this.hub.close();
  }
}
