import { AppError, isRetryable } from '../app/errors.js';
import type { PaymentUseCases } from '../app/index.js';
import type { CallerPaymentRequest } from '../app/payments.js';
import { PROFILE_METADATA_KEY } from '../profiles/profile.js';
import { orderPaymentRequest, type CommandMessage } from './messages.js';

export type CommandOutcome =
  | {
      kind: 'started';
      resource: string;
      /** The order's payment had already ended (a message seen again): its result stands. */
      ended?: boolean | undefined;
    }
  /** Final: the message goes to the dead-letter queue with this reason, and is acknowledged. */
  | { kind: 'rejected'; reason: string };

/** Where a command came from when a profile's inbound binding made it of a system's own message. */
export interface CommandOrigin {
  profile: string;
  /** A decline ends the payment (the binding's `attempts: single`). */
  singleAttempt: boolean;
}

const ENDED = new Set(['succeeded', 'failed', 'canceled', 'partially_refunded', 'refunded']);

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
    private readonly services: Pick<PaymentUseCases, 'payments' | 'refunds' | 'checkoutSessions'>,
    /** The tenants this deployment serves (the API keys' tenants, unless suspended). */
    private readonly tenants: Pick<ReadonlySet<string>, 'has'>,
  ) {}

  /** `tenantId`: the tenant the message was authenticated as (trust.ts), never one it merely names. */
  async handle(message: CommandMessage, tenantId: string, origin?: CommandOrigin): Promise<CommandOutcome> {
    if (!this.tenants.has(tenantId)) return { kind: 'rejected', reason: `unknown tenant "${tenantId}"` };
    try {
      switch (message.type) {
        case 'payment.create':
        case 'payment.retry': {
          const { type, tenantId: _tenant, ...request } = message;
          if (
            type === 'payment.retry' &&
            !(await this.services.payments.findByOrder(tenantId, request.orderId))
          )
            return { kind: 'rejected', reason: `no payment for order ${request.orderId} to try again` };
          return await this.pay(tenantId, withOrigin(request, origin), origin?.singleAttempt ?? false);
        }
        case 'OrderStockConfirmed':
          return await this.pay(tenantId, orderPaymentRequest(message), false);
        case 'checkout.create': {
          const { type: _type, tenantId: _tenant, ...body } = message;
          try {
            // Opened for a profile: its system learns the page's URL from checkout_session.created.
            const session = await this.services.checkoutSessions.create(tenantId, body, {
              announce: origin !== undefined,
            });
            return { kind: 'started', resource: session.id };
          } catch (error) {
            // The order's session was opened by this same message, delivered before.
            if (error instanceof AppError && error.code === 'checkout_session_exists') {
              const existing = error.extensions.checkoutSessionId;
              if (typeof existing === 'string') return { kind: 'started', resource: existing };
            }
            throw error;
          }
        }
        case 'refund.create': {
          const paymentId = message.paymentId ?? (await this.paymentOfOrder(tenantId, message.orderId ?? ''));
          if (!paymentId)
            return { kind: 'rejected', reason: `no payment for order ${message.orderId ?? ''} to refund` };
          const { refund } = await this.services.refunds.create(
            tenantId,
            paymentId,
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

  /**
   * `ended`: the order's payment had ended before this message came (its result went out then);
   * one this message starts may end before `create` returns, and its result goes out as usual.
   */
  private async pay(
    tenantId: string,
    request: CallerPaymentRequest,
    singleAttempt: boolean,
  ): Promise<CommandOutcome> {
    const before = await this.services.payments.findByOrder(tenantId, request.orderId);
    const { payment } = await this.services.payments.create(tenantId, request, {
      wait: false,
      singleAttempt,
    });
    return { kind: 'started', resource: payment.id, ended: before !== undefined && ENDED.has(before.status) };
  }

  private async paymentOfOrder(tenantId: string, orderId: string): Promise<string | undefined> {
    return (await this.services.payments.findByOrder(tenantId, orderId))?.id;
  }
}

/** The request with its profile in the metadata (a key callers may not set: added after validation). */
function withOrigin<T extends CallerPaymentRequest>(request: T, origin: CommandOrigin | undefined): T {
  if (!origin) return request;
  return { ...request, metadata: { ...request.metadata, [PROFILE_METADATA_KEY]: origin.profile } };
}

/** The dead-letter reason for a refusal no retry changes; undefined for one a retry may cure. */
function finalRefusal(error: unknown): string | undefined {
  if (!(error instanceof AppError) || isRetryable(error.kind)) return undefined;
  return `${error.code}: ${error.detail ?? error.message}`;
}
