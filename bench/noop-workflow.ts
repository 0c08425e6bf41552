/** The engine floor's workflow: no activities, no timers; one workflow task and it completes. */
export async function noopWorkflow(): Promise<string> {
  return 'ok';
}
