import { ApplicationFailure } from '@temporalio/activity';
import { isPermanentDataError, sqlState } from '../db/errors.js';
import { ErrorType } from '../domain/errors.js';

/**
 * Wraps database activities so a write PostgreSQL will never accept fails once, non-retryable,
 * instead of being retried forever by Temporal: the workflow then ends in a visible status.
 */
export function refusingPermanentErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await activity(...args);
      } catch (error) {
        if (!isPermanentDataError(error)) throw error;
        throw ApplicationFailure.create({
          type: ErrorType.PersistenceRejected,
          message: `the database refused the data (SQLSTATE ${sqlState(error)})`,
          nonRetryable: true,
        });
      }
    };
  }
  return wrapped as T;
}
