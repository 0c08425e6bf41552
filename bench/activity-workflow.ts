/** The one-activity floor's workflow: one no-op activity, then it completes (two workflow tasks). */
import { proxyActivities } from '@temporalio/workflow';

const { noopActivity } = proxyActivities<{ noopActivity(): Promise<string> }>({
  startToCloseTimeout: '30 seconds',
});

export async function oneActivityWorkflow(): Promise<string> {
  return noopActivity();
}
