import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../domain/errors.js';
import { CircuitBreaker, DEFAULT_CIRCUIT, type CircuitBreakerOptions } from '../gateway/circuit-breaker.js';
import { GatewayRequestError } from '../gateway/errors.js';
import { gatewayIdempotencyKeyFor } from '../gateway/idempotency-key.js';
import type {
  Authorization,
  AuthorizationLookupRequest,
  AuthorizeRequest,
  CaptureRequest,
  ExpireCheckoutSessionRequest,
  GatewayCheckoutSession,
  GatewayRefund,
  PaymentGateway,
  RefundRequest,
  VoidRequest,
} from '../gateway/port.js';
import { UnknownConnectorError, type ConnectorRegistry } from '../gateway/registry.js';
import type { WorkerMetrics } from '../metrics.js';

/** The running activity's type (`authorizeCard`, ...) and try, or `direct` outside an activity (tests). */
function activityInfo(): { operation: string; attempt: number } {
  try {
    const { activityType, attempt } = Context.current().info;
    return { operation: activityType, attempt };
  } catch {
    return { operation: 'direct', attempt: 1 };
  }
}

/**
 * A gateway request plus where it goes: the connector that authorized the payment, and the
 * tenant whose account on it is used (absent in activity tasks from before tenants had their own).
 */
export type Routed<T> = T & { connector: string; tenantId?: string | undefined };

export interface AuthorizationLookup {
  authorizationId: string;
}

/** A write as a connector sends it: its idempotency key within what gateways accept. */
function withGatewayKey<T extends { idempotencyKey: string }>(request: T): T {
  return { ...request, idempotencyKey: gatewayIdempotencyKeyFor(request.idempotencyKey) };
}

/**
 * Activity tasks scheduled by a worker from before connectors were routed carry no name; every
 * payment then went through the sandbox.
 */
const LEGACY_CONNECTOR = 'sandbox';

/**
 * Gateway calls, each routed to the connector its request names. Each carries the idempotency
 * key the workflow derived for its step, so when Temporal retries after a timeout the gateway
 * replays the first result instead of charging again. `GatewayUnavailableError` and other
 * transient faults propagate as ordinary errors and are retried; a refusal is final.
 */
export function createGatewayActivities(
  connectors: ConnectorRegistry,
  metrics?: WorkerMetrics,
  circuit: CircuitBreakerOptions = DEFAULT_CIRCUIT,
) {
  // One breaker per connector and tenant: no tenant's failures move another's payments.
  const breakers = new Map<string, CircuitBreaker>();
  const breakerOf = (connector: string, tenantId: string | undefined) => {
    const key = `${connector}\u0000${tenantId ?? ''}`;
    let breaker = breakers.get(key);
    if (!breaker) breakers.set(key, (breaker = new CircuitBreaker(circuit)));
    return breaker;
  };
  const call = async <T>(
    request: { connector?: string | undefined; tenantId?: string | undefined },
    fn: (connector: PaymentGateway) => Promise<T>,
    options: { guarded?: boolean } = {},
  ): Promise<T> => {
    const connector = request.connector ?? LEGACY_CONNECTOR;
    const { operation, attempt } = activityInfo();
    const started = performance.now();
    const count = (outcome: string) => {
      metrics?.gatewayCalls.inc({ connector, operation, outcome });
      metrics?.gatewayDuration.observe({ connector, operation }, (performance.now() - started) / 1000);
    };
    const breaker = breakerOf(connector, request.tenantId);
    let gateway: PaymentGateway | undefined;
    try {
      gateway = connectors.get(connector, request.tenantId);
      if (options.guarded && !breaker.allow()) {
        count('circuit_open');
        // Not sent: on a first try nothing of this request ever reached the gateway.
        throw ApplicationFailure.create({
          type: ErrorType.GatewayCircuitOpen,
          message: `connector ${connector} is failing: its circuit is open, the request was not sent`,
          nonRetryable: true,
          details: [{ sentBefore: attempt > 1 }],
        });
      }
      const result = await fn(gateway);
      breaker.record(false);
      count((result as { status?: string } | null)?.status === 'declined' ? 'declined' : 'ok');
      return result;
    } catch (error) {
      if (error instanceof ApplicationFailure) throw error;
      // The gateway's own failure (no answer, 5xx, 429) counts against its circuit; a refusal is an answer.
      if (gateway) breaker.record(!(error instanceof GatewayRequestError));
      count(
        error instanceof GatewayRequestError || error instanceof UnknownConnectorError
          ? 'final_error'
          : 'retryable_error',
      );
      if (error instanceof GatewayRequestError || error instanceof UnknownConnectorError) {
        throw ApplicationFailure.create({
          type:
            error instanceof GatewayRequestError ? ErrorType.GatewayRequestError : ErrorType.UnknownConnector,
          message: error.message,
          nonRetryable: true,
        });
      }
      throw error;
    }
  };
  return {
    /**
     * With `failover` (the payment has a connector to move to), an open circuit refuses the
     * authorization at once; without, it is sent whatever the circuit says.
     */
    authorizeCard: ({ failover, ...request }: Routed<AuthorizeRequest> & { failover?: boolean }) =>
      call(request, (connector) => connector.authorize(withGatewayKey(request)), { guarded: failover }),
    /**
     * The authorization an `authorizeCard` with this key made, or null: asked before a payment
     * moves to another connector after an authorization whose answer never came.
     */
    findAuthorization: (request: Routed<AuthorizationLookupRequest>): Promise<Authorization | null> =>
      call(request, async (connector) => {
        if (!connector.findAuthorization)
          throw new GatewayRequestError(
            'not_supported',
            `connector ${connector.name} cannot look an authorization up by its key`,
            400,
          );
        return (await connector.findAuthorization(withGatewayKey(request))) ?? null;
      }),
    captureCard: (request: Routed<CaptureRequest>): Promise<Authorization> =>
      call(request, (connector) => connector.capture(withGatewayKey(request))),
    voidCard: (request: Routed<VoidRequest>): Promise<Authorization> =>
      call(request, async (connector) => {
        try {
          return await connector.void(withGatewayKey(request));
        } catch (error) {
          // A void makes sure no hold is left. A declined (e.g. failed 3-D Secure) or already
          // voided authorization holds nothing: the gateway refuses the void, and that is done.
          if (!(error instanceof GatewayRequestError)) throw error;
          const current = await connector.status(request.authorizationId);
          if (current.status === 'declined' || current.status === 'voided') return current;
          throw error;
        }
      }),
    getAuthorization: (request: Routed<AuthorizationLookup>): Promise<Authorization> => {
      // Before connectors were routed this activity took the bare authorization id.
      const lookup: Partial<Routed<AuthorizationLookup>> =
        typeof request === 'string' ? { authorizationId: request } : request;
      return call(lookup, (connector) => connector.status(lookup.authorizationId ?? ''));
    },
    refundCard: (request: Routed<RefundRequest>): Promise<GatewayRefund> =>
      call(request, (connector) => connector.refund(withGatewayKey(request))),
    /** A checkout session's page on the gateway ends with Paysaga's session. */
    expireGatewayCheckoutSession: (
      request: Routed<ExpireCheckoutSessionRequest>,
    ): Promise<GatewayCheckoutSession> =>
      call(request, (connector) => {
        if (!connector.expireCheckoutSession)
          throw new GatewayRequestError(
            'not_supported',
            `connector ${connector.name} has no checkout sessions`,
            400,
          );
        return connector.expireCheckoutSession(withGatewayKey(request));
      }),
  };
}
