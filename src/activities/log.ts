import { Context } from '@temporalio/activity';
import type { LogMetadata } from '@temporalio/common';

/**
 * An info line from the running activity, through the SDK's activity logger (which adds the
 * workflow id, run id, activity type and attempt; the worker's logger adds the payment's tenant
 * and id). Outside an activity (a test calling the function directly) it writes nothing.
 */
export function activityInfo(message: string, meta?: LogMetadata): void {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return;
  }
  context.log.info(message, meta);
}
