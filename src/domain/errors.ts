/**
 * Error types that activities raise for business outcomes. Temporal matches retry policies on
 * these names, so they are stable strings: never rename one.
 */
export const ErrorType = {
  InsufficientFunds: 'InsufficientFunds',
  CurrencyMismatch: 'CurrencyMismatch',
  LedgerConflict: 'LedgerConflict',
  GatewayRequestError: 'GatewayRequestError',
  /**
   * A connector's circuit is open (it has been failing): the authorization was not sent. Its
   * details say whether an earlier try of the same request was (`sentBefore`).
   */
  GatewayCircuitOpen: 'GatewayCircuitOpen',
  /** A gateway call names a connector this worker has not configured. */
  UnknownConnector: 'UnknownConnector',
  OrderAlreadyPaid: 'OrderAlreadyPaid',
  InvalidPaymentState: 'InvalidPaymentState',
  InvalidAmount: 'InvalidAmount',
  /** A checkout session that has ended (complete or expired) takes no more changes. */
  CheckoutSessionNotOpen: 'CheckoutSessionNotOpen',
  /** PostgreSQL refused the data itself (see db/errors.ts): no retry can store it. */
  PersistenceRejected: 'PersistenceRejected',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Business errors are final; everything else (I/O, timeouts, 5xx) is retried by Temporal. */
export const NON_RETRYABLE_ERROR_TYPES: ErrorType[] = [
  ErrorType.InsufficientFunds,
  ErrorType.CurrencyMismatch,
  ErrorType.LedgerConflict,
  ErrorType.GatewayRequestError,
  ErrorType.PersistenceRejected,
];
