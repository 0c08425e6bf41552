import { ProblemError } from '../api/problem.js';
import type { PaymentService } from '../api/services/payments.js';
import type { RefundService } from '../api/services/refunds.js';
import { orderPaymentRequest, type CommandMessage } from './messages.js';

export type CommandOutcome =
  | { kind: 'started'; resource: string }
  /** Final: the message goes to the dead-letter queue with this reason, and is acknowledged. */
  | { kind: 'rejected'; reason: string };

/**
 * Starts what a command asks for through the same services as the HTTP API, so a message and
 * a request for the same order are the same workflow, and a redelivered or duplicated message
 * never charges twice. Returns once the workflow has been started (not settled): its outcome
 * goes out as events. A refusal the API would answer with a 4xx is final; anything else throws,
 * for the caller to retry (process.ts decides how long).
 */
export class CommandHandler {
  constructor(
    private readonly services: { payments: PaymentService; refunds: RefundService },
    /** The tenants this deployment serves (the API keys' tenants). */
    private readonly tenants: ReadonlySet<string>,
  ) {}

  /** `tenantId`: the tenant the message was authenticated as (trust.ts), never one it merely names. */
  async handle(message: CommandMessage, tenantId: string): Promise<CommandOutcome> {
    if (!this.tenants.has(tenantId)) return { kind: 'rejected', reason: `unknown tenant "${tenantId}"` };
    try {
      switch (message.type) {
        case 'payment.create': {
          const { type: _type, tenantId: _tenant, ...request } = message;
          const { payment } = await this.services.payments.create(tenantId, request, { wait: false });
          return { kind: 'started', resource: payment.id };
        }
        case 'OrderStockConfirmed': {
          const request = orderPaymentRequest(message);
          const { payment } = await this.services.payments.create(tenantId, request, { wait: false });
          return { kind: 'started', resource: payment.id };
        }
        case 'refund.create': {
          const { refund } = await this.services.refunds.create(
            tenantId,
            message.paymentId,
            { amount: message.amount, reason: message.reason },
            { key: message.idempotencyKey, wait: false },
          );
          return { kind: 'started', resource: refund.id };
        }
      }
    } catch (error) {
      if (error instanceof ProblemError && error.status >= 400 && error.status < 500 && error.status !== 429)
        return { kind: 'rejected', reason: `${error.code}: ${error.detail ?? error.message}` };
      throw error;
    }
  }
}
