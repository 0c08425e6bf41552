/**
 * The retry contract every connector keeps. A connector throws `GatewayUnavailableError` when
 * the outcome is unknown (unreachable, timeout, 5xx, 429): the activity fails and Temporal
 * retries it with the same idempotency key. It throws `GatewayRequestError` when the provider
 * refused the request itself: the activity fails for good. Business declines are neither; they
 * come back as values (`status: 'declined'`).
 */
export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError';
  readonly retryable = true;
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The provider refused the request (bad state, amount, id, payload): retrying cannot help. */
export class GatewayRequestError extends Error {
  override readonly name = 'GatewayRequestError';
  readonly retryable = false;
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}
