import { z } from 'zod';
import { assertNever } from '../../../domain/assert-never.js';
import { CURRENCIES } from '../../../domain/money.js';
import type { FailureCode } from '../../../domain/payment.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../errors.js';
import type {
  Authorization,
  AuthorizationLookupRequest,
  AuthorizationStatus,
  AuthorizeRequest,
  GatewayRefund,
  GatewaySavedMethod,
  RefundRequest,
  RefundStatus,
  SaveMethodRequest,
  SavedMethodStatus,
  WebhookEvent,
} from '../../port.js';

/**
 * The sandbox PSP as this connector reads it, and the one place it is translated into
 * Paysaga's port types: request bodies, response and webhook shapes, statuses, decline codes and
 * errors. These are the connector's own definitions of the PSP's wire format (it never imports
 * the sandbox program); a new value on the wire must be added here, and the exhaustive switches
 * make the compiler point at this file.
 */
export const SANDBOX_AUTHORIZATION_STATUSES = [
  'requires_action',
  'authorized',
  'captured',
  'declined',
  'voided',
] as const;
export type SandboxAuthorizationStatus = (typeof SANDBOX_AUTHORIZATION_STATUSES)[number];

export const SANDBOX_DECLINE_CODES = [
  'card_declined',
  'insufficient_funds',
  'expired_card',
  'invalid_card',
  'fraud_suspected',
  'authentication_failed',
  'authentication_required',
  'processing_error',
] as const;
export type SandboxDeclineCode = (typeof SANDBOX_DECLINE_CODES)[number];

export const SANDBOX_PAYMENT_METHOD_STATUSES = ['active', 'requires_action', 'failed', 'detached'] as const;
export type SandboxPaymentMethodStatus = (typeof SANDBOX_PAYMENT_METHOD_STATUSES)[number];

export const SANDBOX_REFUND_STATUSES = ['succeeded', 'pending', 'failed'] as const;
export type SandboxRefundStatus = (typeof SANDBOX_REFUND_STATUSES)[number];

/** API error code the sandbox answers when an authorization names a token it never issued. */
export const SANDBOX_TOKEN_NOT_FOUND = 'token_not_found';
/** API error code for a request whose idempotency key is still being processed. */
const SANDBOX_KEY_IN_USE = 'idempotency_key_in_use';

// ---- Request mapping -------------------------------------------------------------------------

export function toAuthorizeBody(request: AuthorizeRequest) {
  const { token, amount, currency, reference, capture, returnUrl, saved } = request;
  return {
    token,
    amount,
    currency,
    reference,
    capture,
    ...(returnUrl ? { returnUrl } : {}),
    ...(saved?.offSession ? { offSession: true } : {}),
    ...(saved?.offSession && saved.networkTransactionId
      ? { previousNetworkTransactionId: saved.networkTransactionId }
      : {}),
  };
}

/** The lookup of the authorization an earlier authorize made, by its key (and payment id). */
export function toFindAuthorizationQuery(lookup: AuthorizationLookupRequest): string {
  return new URLSearchParams({
    idempotency_key: lookup.idempotencyKey,
    reference: lookup.reference,
  }).toString();
}

export function toSavePaymentMethodBody(request: SaveMethodRequest) {
  const { token, reference, returnUrl } = request;
  return { token, reference, ...(returnUrl ? { returnUrl } : {}) };
}

export function toRefundBody(request: RefundRequest) {
  return { amount: request.amount, ...(request.reason !== undefined ? { reason: request.reason } : {}) };
}

// ---- Response mapping ------------------------------------------------------------------------

export function toAuthorizationStatus(status: SandboxAuthorizationStatus): AuthorizationStatus {
  switch (status) {
    case 'requires_action':
      return 'requires_action';
    case 'authorized':
      return 'authorized';
    case 'captured':
      return 'captured';
    case 'declined':
      return 'declined';
    case 'voided':
      return 'voided';
    default:
      return assertNever(status, 'sandbox authorization status');
  }
}

export function isSandboxDeclineCode(code: string): code is SandboxDeclineCode {
  return (SANDBOX_DECLINE_CODES as readonly string[]).includes(code);
}

export function toFailureCode(code: SandboxDeclineCode): FailureCode {
  switch (code) {
    case 'card_declined':
      return 'card_declined';
    case 'insufficient_funds':
      return 'insufficient_funds';
    case 'expired_card':
      return 'expired_card';
    case 'invalid_card':
      return 'invalid_card';
    case 'fraud_suspected':
      return 'fraud_suspected';
    case 'authentication_failed':
      return 'authentication_failed';
    case 'authentication_required':
      return 'authentication_required';
    case 'processing_error':
      return 'processing_error';
    default:
      return assertNever(code, 'sandbox decline code');
  }
}

/**
 * A decline is final whatever its reason, so a code this version does not know still declines
 * (as a generic `card_declined`) instead of failing the activity and being retried forever.
 */
export function declineCodeToFailureCode(code: string | undefined): FailureCode {
  return code !== undefined && isSandboxDeclineCode(code) ? toFailureCode(code) : 'card_declined';
}

export function toRefundStatus(status: SandboxRefundStatus): RefundStatus {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'pending':
      return 'pending';
    case 'failed':
      return 'failed';
    default:
      return assertNever(status, 'sandbox refund status');
  }
}

/** A detached method can no longer be charged: to Paysaga it has failed. */
export function toSavedMethodStatus(status: SandboxPaymentMethodStatus): SavedMethodStatus {
  switch (status) {
    case 'active':
      return 'active';
    case 'requires_action':
      return 'requires_action';
    case 'failed':
    case 'detached':
      return 'failed';
    default:
      return assertNever(status, 'sandbox payment method status');
  }
}

/** Response and webhook bodies as the connector parses them; unknown extra fields are ignored. */
const wireCard = z.object({ brand: z.string(), last4: z.string(), expMonth: z.int(), expYear: z.int() });
export const wireAuthorization = z.object({
  id: z.string(),
  status: z.enum(SANDBOX_AUTHORIZATION_STATUSES),
  amount: z.int(),
  amountCaptured: z.int(),
  amountRefunded: z.int(),
  currency: z.enum(CURRENCIES),
  card: wireCard.optional(),
  actionUrl: z.string().optional(),
  failureCode: z.string().optional(),
  failureMessage: z.string().optional(),
  networkTransactionId: z.string().optional(),
});
/** `GET /authorizations?idempotency_key=`: the authorization that key made, or none. */
export const wireAuthorizationList = z.object({ data: z.array(wireAuthorization) });
export const wirePaymentMethod = z.object({
  id: z.string(),
  status: z.enum(SANDBOX_PAYMENT_METHOD_STATUSES),
  card: wireCard,
  actionUrl: z.string().optional(),
  networkTransactionId: z.string().optional(),
  failureCode: z.string().optional(),
  failureMessage: z.string().optional(),
});
export const wireRefund = z.object({
  id: z.string(),
  authorizationId: z.string(),
  status: z.enum(SANDBOX_REFUND_STATUSES),
  amount: z.int(),
  failureMessage: z.string().optional(),
});
export const wireError = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });
export const wireEvent = z.discriminatedUnion('type', [
  z.object({
    id: z.string(),
    type: z.literal('authorization.updated'),
    data: z.object({ authorization: wireAuthorization, reference: z.string() }),
  }),
  z.object({
    id: z.string(),
    type: z.literal('refund.updated'),
    data: z.object({ refund: wireRefund, reference: z.string() }),
  }),
  z.object({
    id: z.string(),
    type: z.literal('payment_method.updated'),
    data: z.object({ paymentMethod: wirePaymentMethod, reference: z.string() }),
  }),
]);

export function toAuthorization(wire: z.infer<typeof wireAuthorization>): Authorization {
  return {
    id: wire.id,
    status: toAuthorizationStatus(wire.status),
    amount: wire.amount,
    amountCaptured: wire.amountCaptured,
    amountRefunded: wire.amountRefunded,
    currency: wire.currency,
    card: wire.card,
    actionUrl: wire.actionUrl,
    failureCode: wire.status === 'declined' ? declineCodeToFailureCode(wire.failureCode) : undefined,
    failureMessage: wire.failureMessage,
    networkTransactionId: wire.networkTransactionId,
  };
}

export function toSavedMethod(wire: z.infer<typeof wirePaymentMethod>): GatewaySavedMethod {
  const status = toSavedMethodStatus(wire.status);
  return {
    id: wire.id,
    status,
    card: wire.card,
    actionUrl: wire.actionUrl,
    networkTransactionId: wire.networkTransactionId,
    ...(status === 'failed'
      ? {
          failureCode:
            wire.status === 'detached' ? 'card_declined' : declineCodeToFailureCode(wire.failureCode),
          failureMessage: wire.status === 'detached' ? 'The card was removed.' : wire.failureMessage,
        }
      : {}),
  };
}

export function toRefund(wire: z.infer<typeof wireRefund>): GatewayRefund {
  const { id, authorizationId, amount, failureMessage } = wire;
  return { id, authorizationId, status: toRefundStatus(wire.status), amount, failureMessage };
}

/** An unknown token is the customer's card being unusable: a final decline, not a fault. */
export function unknownTokenDecline(request: AuthorizeRequest): Authorization {
  return {
    id: '',
    status: 'declined',
    amount: request.amount,
    amountCaptured: 0,
    amountRefunded: 0,
    currency: request.currency,
    failureCode: 'invalid_card',
    failureMessage: 'Unknown card token',
  };
}

/** A signed webhook body (the signature is checked before this) as a port event. */
export function toWebhookEvent(rawBody: Buffer): WebhookEvent {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new GatewayRequestError('invalid_webhook_payload', 'Webhook body is not JSON', 400);
  }
  const parsed = wireEvent.safeParse(json);
  if (!parsed.success) {
    throw new GatewayRequestError('invalid_webhook_payload', z.prettifyError(parsed.error), 400);
  }
  const event = parsed.data;
  switch (event.type) {
    case 'authorization.updated':
      return {
        type: event.type,
        eventId: event.id,
        authorization: toAuthorization(event.data.authorization),
        reference: event.data.reference,
      };
    case 'refund.updated':
      return {
        type: event.type,
        eventId: event.id,
        refund: toRefund(event.data.refund),
        reference: event.data.reference,
      };
    case 'payment_method.updated':
      return {
        type: event.type,
        eventId: event.id,
        method: toSavedMethod(event.data.paymentMethod),
        reference: event.data.reference,
      };
  }
}

// ---- Error mapping ---------------------------------------------------------------------------

/** An HTTP answer: status and the parsed JSON body (undefined when empty). */
export interface SandboxResponse {
  status: number;
  body: unknown;
}

/** No answer at all (timeout, refused or reset connection): the request may or may not have run. */
export function unreachable(what: string, cause: unknown): GatewayUnavailableError {
  const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new GatewayUnavailableError(`Sandbox gateway unreachable (${what}): ${reason}`, undefined, {
    cause,
  });
}

/**
 * Reads an answer, or throws what the retry contract asks for: 5xx, 429, 408 and a key still
 * in flight are transient (`GatewayUnavailableError`); a body that is not JSON is a refusal.
 * Other 4xx answers are returned, for `expectBody` or a caller that maps a code to a decline.
 */
export function readResponse(what: string, status: number, text: string): SandboxResponse {
  if (status >= 500 || status === 429 || status === 408) {
    throw new GatewayUnavailableError(`Sandbox gateway answered ${status} (${what})`, status);
  }
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new GatewayRequestError(
      'invalid_response',
      `Sandbox gateway answered ${status} with a non-JSON body`,
      status,
    );
  }
  const response = { status, body };
  if (errorCode(response) === SANDBOX_KEY_IN_USE) {
    throw new GatewayUnavailableError('A request with this idempotency key is still in flight', status);
  }
  return response;
}

/** The sandbox's error code of a 4xx answer, if it sent one. */
export function errorCode(response: SandboxResponse): string | undefined {
  if (response.status < 400) return undefined;
  const parsed = wireError.safeParse(response.body);
  return parsed.success ? parsed.data.error.code : undefined;
}

/** The body of a 2xx answer in `schema`'s shape; any other answer is a `GatewayRequestError`. */
export function expectBody<T>(response: SandboxResponse, schema: z.ZodType<T>): T {
  if (response.status >= 200 && response.status < 300) {
    const parsed = schema.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new GatewayRequestError('invalid_response', z.prettifyError(parsed.error), response.status);
  }
  const parsed = wireError.safeParse(response.body);
  const code = parsed.success ? parsed.data.error.code : `http_${response.status}`;
  const message = parsed.success
    ? (parsed.data.error.message ?? code)
    : `Sandbox gateway answered ${response.status}`;
  throw new GatewayRequestError(code, message, response.status);
}
