import { AppError, isRetryable } from '../app/errors.js';
import type { PaymentUseCases } from '../app/index.js';
import { orderPaymentRequest, type CommandMessage } from './messages.js';

export type CommandOutcome =
  | { kind: 'started'; resource: string }
  /** Final: the message goes to the dead-letter queue with this reason, and is acknowledged. */
  | { kind: 'rejected'; reason: string };

/**
 * Starts what a command asks for through the same use cases as the HTTP API, so a message and
 * a request for the same order are the same workflow, and a redelivered or duplicated message
 * never charges twice. Returns once the workflow has been started (not settled): its outcome
 * goes out as events. A refusal that retrying cannot change (the order is paid already, the
 * payment does not exist...) is final; anything else throws, for the caller to retry
 * (process.ts decides how long).
 */
export class CommandHandler {
  constructor(
    private readonly services: Pick<PaymentUseCases, 'payments' | 'refunds'>,
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
      const refusal = finalRefusal(error);
      if (refusal) return { kind: 'rejected', reason: refusal };
      throw error;
    }
  }
}

/** The dead-letter reason for a refusal no retry changes; undefined for one a retry may cure. */
function finalRefusal(error: unknown): string | undefined {
  if (!(error instanceof AppError) || isRetryable(error.kind)) return undefined;
  return `${error.code}: ${error.detail ?? error.message}`;
}
