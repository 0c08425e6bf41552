import { cloudEvent, type CloudEvent } from '../domain/events.js';
import { publicPayment, type PaymentView } from '../domain/payment.js';
import type { Executor } from '../db/client.js';
import { insertEvent, savePayment } from '../db/payments.js';

export interface RecordPaymentInput {
  view: PaymentView;
  /** Event type to publish with this state (outbox row in the same transaction). */
  eventType?: string | undefined;
}

export function createPaymentActivities(db: Executor) {
  return {
    async recordPayment({ view, eventType }: RecordPaymentInput): Promise<void> {
      const event = eventType
        ? cloudEvent({
            workflowId: view.workflowId,
            seq: view.version,
            type: eventType,
            subject: `payments/${view.id}`,
            tenantId: view.tenantId,
            time: view.updatedAt,
            data: publicPayment(view),
          })
        : undefined;
      await savePayment(db, view, event);
    },

    /** Writes an event to the outbox; the deterministic id makes a retry a no-op. */
    async publishEvent(event: CloudEvent): Promise<void> {
      await insertEvent(db, event);
    },
  };
}
