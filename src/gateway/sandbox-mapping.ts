import { z } from 'zod';
import { assertNever } from '../domain/assert-never.js';
import { CURRENCIES } from '../domain/money.js';
import type { FailureCode } from '../domain/payment.js';
import type { Authorization, AuthorizationStatus, GatewayRefund, RefundStatus } from './port.js';

/**
 * The sandbox PSP's wire vocabulary and the one place it is translated into Paysaga's port types.
 * The sandbox server emits exactly these values; a new value there must be mapped here, and the
 * exhaustive switches make the compiler point at this file.
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
  'processing_error',
] as const;
export type SandboxDeclineCode = (typeof SANDBOX_DECLINE_CODES)[number];

export const SANDBOX_REFUND_STATUSES = ['succeeded', 'pending', 'failed'] as const;
export type SandboxRefundStatus = (typeof SANDBOX_REFUND_STATUSES)[number];

/** API error code the sandbox answers when an authorization names a token it never issued. */
export const SANDBOX_TOKEN_NOT_FOUND = 'token_not_found';

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
  };
}

export function toRefund(wire: z.infer<typeof wireRefund>): GatewayRefund {
  const { id, authorizationId, amount, failureMessage } = wire;
  return { id, authorizationId, status: toRefundStatus(wire.status), amount, failureMessage };
}
