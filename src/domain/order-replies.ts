/**
 * The food-ordering answer to `OrderStockConfirmed`: a payment started from that message carries
 * `paysaga.reply: OrderPayment` in its metadata, and the relay sends `OrderPaymentSucceeded` or
 * `OrderPaymentFailed` right after its terminal event, on the same sinks. The answer is derived
 * from an outbox event (its id is that event's id plus `:reply`), so it is as durable and as
 * deduplicable as the event itself.
 */
import type { CloudEvent } from './events.js';
import type { PaymentView } from './payment.js';

/**
 * The metadata that makes the event relay answer a payment with the food-ordering events. Its key
 * is reserved (callers' metadata may not use `paysaga.`): only an authenticated
 * OrderStockConfirmed sets it, after validation.
 */
export const ORDER_REPLY_METADATA = { 'paysaga.reply': 'OrderPayment' } as const;

export const ORDER_PAYMENT_SUCCEEDED = 'OrderPaymentSucceeded';
export const ORDER_PAYMENT_FAILED = 'OrderPaymentFailed';

export interface OrderPaymentReply {
  orderId: string;
  paymentId: string;
  /** Only on OrderPaymentFailed: Paysaga's failure code (`card_declined`, `expired`, ...). */
  failureCode?: string;
}

const TERMINAL = new Set(['payment.succeeded', 'payment.failed', 'payment.canceled']);
const [REPLY_KEY, REPLY_VALUE] = Object.entries(ORDER_REPLY_METADATA)[0]!;

export function withOrderReplies(list: readonly CloudEvent[]): CloudEvent[] {
  return list.flatMap((event) => {
    const reply = orderReply(event);
    return reply ? [event, reply] : [event];
  });
}

function orderReply(event: CloudEvent): CloudEvent<OrderPaymentReply> | undefined {
  if (!TERMINAL.has(event.type)) return undefined;
  const payment = event.data as Partial<PaymentView> | null;
  if (!payment?.metadata || payment.metadata[REPLY_KEY] !== REPLY_VALUE) return undefined;
  const succeeded = event.type === 'payment.succeeded';
  return {
    ...event,
    id: `${event.id}:reply`,
    type: succeeded ? ORDER_PAYMENT_SUCCEEDED : ORDER_PAYMENT_FAILED,
    data: {
      orderId: payment.orderId ?? '',
      paymentId: payment.id ?? '',
      ...(succeeded ? {} : { failureCode: payment.failureCode ?? 'canceled' }),
    },
  };
}
