import { eventId } from './ids.js';

/** CloudEvents 1.0 (JSON format), with Paysaga's tenant as an extension attribute. */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  tenantid: string;
  data: T;
}

export const EVENT_SOURCE = 'paysaga';

export type PaymentEventType =
  | 'payment.processing'
  | 'payment.requires_action'
  | 'payment.requires_capture'
  | 'payment.attempt_failed'
  | 'payment.succeeded'
  | 'payment.failed'
  | 'payment.canceled'
  | 'payment.partially_refunded'
  | 'payment.refunded';

/**
 * The id depends only on the workflow, the type and the state version, so a retried activity
 * republishes the same id and consumers can dedupe.
 */
export function cloudEvent<T>(args: {
  workflowId: string;
  seq: number;
  type: string;
  subject: string;
  tenantId: string;
  time: string;
  data: T;
}): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: eventId(args.workflowId, args.type, args.seq),
    source: EVENT_SOURCE,
    type: args.type,
    subject: args.subject,
    time: args.time,
    datacontenttype: 'application/json',
    tenantid: args.tenantId,
    data: args.data,
  };
}
