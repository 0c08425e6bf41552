/** The smoke test's workflow (scripts/temporal-server-smoke.ts): one workflow task, then done. */
export async function smokeWorkflow(): Promise<string> {
  return 'ok';
}
