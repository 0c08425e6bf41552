import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorType } from '../domain/errors.js';
import type { FailureCode } from '../domain/payment.js';

/** A business decline the workflow decided on itself (a gateway answer, an expired window). */
export class Declined extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What went wrong, for every workflow alike:
 * - `declined`: a business outcome (a decline, insufficient funds), final and expected;
 * - `refused`: a step was refused for good (a non-retryable error such as the gateway rejecting
 *   the request or PostgreSQL refusing the data);
 * - `exhausted`: a transient fault outlived its retry budget.
 * Anything else is a bug in the workflow: it is rethrown, so Temporal retries the task.
 */
export type Failure =
  | { kind: 'declined'; code: FailureCode; message: string }
  | { kind: 'refused'; type: string; message: string }
  | { kind: 'exhausted'; message: string };

/** The ApplicationFailure type of an activity's failure, however it arrived. */
export function failureType(error: unknown): string | undefined {
  // A local activity's failure arrives as its ApplicationFailure, a regular one wrapped in ActivityFailure.
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

export function classifyFailure(error: unknown): Failure {
  if (error instanceof Declined) return { kind: 'declined', code: error.code, message: error.message };
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    if (cause.type === ErrorType.InsufficientFunds)
      return { kind: 'declined', code: 'insufficient_funds', message: 'insufficient wallet balance' };
    if (cause.nonRetryable) return { kind: 'refused', type: cause.type ?? 'Error', message: cause.message };
  }
  // Out of retries: a regular activity (wrapped), or a local one (its last failure, or timeout).
  if (
    error instanceof ActivityFailure ||
    error instanceof ApplicationFailure ||
    error instanceof TimeoutFailure
  )
    return { kind: 'exhausted', message: error.message };
  throw error;
}
