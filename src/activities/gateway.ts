import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../domain/errors.js';
import type {
  Authorization,
  AuthorizeRequest,
  CaptureRequest,
  GatewayRefund,
  PaymentGateway,
  RefundRequest,
  VoidRequest,
} from '../gateway/port.js';

/**
 * Gateway calls. Each carries the idempotency key the workflow derived for its step, so when
 * Temporal retries after a timeout the gateway replays the first result instead of charging
 * again. Transient faults propagate as ordinary errors and are retried.
 */
export function createGatewayActivities(gateway: PaymentGateway) {
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Error && error.name === 'GatewayRequestError') {
        throw ApplicationFailure.create({
          type: ErrorType.GatewayRequestError,
          message: error.message,
          nonRetryable: true,
        });
      }
      throw error;
    }
  };
  return {
    authorizeCard: (request: AuthorizeRequest): Promise<Authorization> =>
      guard(() => gateway.authorize(request)),
    captureCard: (request: CaptureRequest): Promise<Authorization> => guard(() => gateway.capture(request)),
    voidCard: (request: VoidRequest): Promise<Authorization> => guard(() => gateway.void(request)),
    getAuthorization: (authorizationId: string): Promise<Authorization> =>
      guard(() => gateway.status(authorizationId)),
    refundCard: (request: RefundRequest): Promise<GatewayRefund> => guard(() => gateway.refund(request)),
  };
}
