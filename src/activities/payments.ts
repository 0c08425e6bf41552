import { cloudEvent, type CloudEvent } from '../domain/events.js';
import { publicPayment, type PaymentView } from '../domain/payment.js';
import type { Executor } from '../db/client.js';
import { insertEvent, savePayment } from '../db/payments.js';

export interface RecordPaymentInput {
  view: PaymentView;
  /** Event type to publish with this state (outbox row in the same transaction). */
  eventType?: string | undefined;
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

export function createPaymentActivities(db: Executor) {
  return {
    async recordPayment({ view, eventType }: RecordPaymentInput): Promise<void> {
      await savePayment(db, view, eventType ? paymentEvent(view, eventType) : undefined);
    },

    /** Writes an event to the outbox; the deterministic id makes a retry a no-op. */
    async publishEvent(event: CloudEvent): Promise<void> {
      await insertEvent(db, event);
    },
  };
}
