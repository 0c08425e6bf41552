import { cloudEvent, type CloudEvent } from '../domain/events.js';
import { isSettled, publicPayment, type PaymentStatus, type PaymentView } from '../domain/payment.js';
import type { WorkerMetrics } from '../metrics.js';
import type { SettledPayments } from '../events/settled.js';
import { activityInfo } from './log.js';
import type { Executor } from '../db/client.js';
import { claimOrder, insertEvent, savePayment, type PaymentClaim } from '../db/payments.js';

export interface RecordPaymentInput {
  view: PaymentView;
  /** Event type to publish with this state (outbox row in the same transaction). */
  eventType?: string | undefined;
  /** The status before this change (absent in histories from before it was sent). */
  previousStatus?: PaymentStatus | undefined;
}

/** The event of a payment state: its id is derived from the workflow and the state's version. */
export function paymentEvent(view: PaymentView, eventType: string): CloudEvent {
  return cloudEvent({
    workflowId: view.workflowId,
    seq: view.version,
    type: eventType,
    subject: `payments/${view.id}`,
    tenantId: view.tenantId,
    time: view.updatedAt,
    data: publicPayment(view),
  });
}

/** Who hears of the payment states the activities write. */
export interface RecordNotes {
  /** The worker's Prometheus counters (none in tests that do not read them). */
  metrics?: WorkerMetrics | undefined;
  /** Requests of this process waiting for a payment to settle (the co-located mode). */
  settled?: SettledPayments | undefined;
}

/**
 * What follows a payment state written to PostgreSQL: its log line, and when its status changed,
 * `paysaga_payments_total` and (for the first settled status) the time to settled; a settled
 * state answers the requests of this process that wait for it.
 */
export function noteRecorded(
  { metrics, settled }: RecordNotes,
  { view, eventType, previousStatus }: RecordPaymentInput,
) {
  settled?.recorded(view);
  if (eventType) activityInfo('payment recorded', { status: view.status, eventType, version: view.version });
  if (metrics && previousStatus !== undefined && previousStatus !== view.status) {
    const labels = { status: view.status, method: view.method.type };
    metrics.payments.inc(labels);
    // Leaving `processing` is the payment's first settled status: what the API waits for. A later
    // attempt leaves it again, timed from the payment's creation: that is the customer's time.
    if (previousStatus === 'processing' && isSettled(view.status) && view.attempts.length <= 1)
      metrics.timeToSettled.observe(labels, (Date.parse(view.updatedAt) - Date.parse(view.createdAt)) / 1000);
  }
}

/** A run ends with the payment an earlier run of its order stored: told as the workflow answers it. */
export function noteYielded({ settled }: RecordNotes, paymentId: string, claim: PaymentClaim): PaymentClaim {
  if (!claim.claimed) settled?.yielded(paymentId, claim.stored);
  return claim;
}

export function createPaymentActivities(db: Executor, notes: RecordNotes = {}) {
  return {
    async recordPayment(input: RecordPaymentInput): Promise<void> {
      const { view, eventType } = input;
      await savePayment(db, view, eventType ? paymentEvent(view, eventType) : undefined);
      noteRecorded(notes, input);
    },

    /**
     * A run's first write, its `created` state: refused, with the stored payment returned, when an
     * earlier run of the order (whose workflow Temporal has since deleted) wrote one.
     */
    async claimPayment({ view }: { view: PaymentView }): Promise<PaymentClaim> {
      const claim = await claimOrder(db, view, paymentEvent(view, 'payment.created'));
      if (claim.claimed) noteRecorded(notes, { view, eventType: 'payment.created' });
      return noteYielded(notes, view.id, claim);
    },

    /** Writes an event to the outbox; the deterministic id makes a retry a no-op. */
    async publishEvent(event: CloudEvent): Promise<void> {
      await insertEvent(db, event);
    },
  };
}
