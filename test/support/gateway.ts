import { inject } from 'vitest';

/** The sandbox gateway's own HTTP API (test control plane and 3-D Secure). */
export async function gateway<T = any>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${inject('gatewayUrl')}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export const setFaults = (faults: Record<string, unknown>) => gateway('POST', '/_sandbox/faults', faults);
export const resetFaults = () => gateway('POST', '/_sandbox/reset');

export async function chargesFor(reference: string) {
  const stats = await gateway('GET', '/_sandbox/stats');
  return (
    stats.body.byReference[reference] ?? {
      authorizations: 0,
      captures: 0,
      voids: 0,
      capturedAmount: 0,
      refundedAmount: 0,
    }
  );
}

/** Completes 3-D Secure for a payment in requires_action, as the customer's browser would. */
export async function complete3ds(nextActionUrl: string, outcome: 'succeed' | 'fail') {
  const id = /\/3ds\/([^/?#]+)/.exec(nextActionUrl)?.[1];
  if (!id) throw new Error(`no authorization id in ${nextActionUrl}`);
  return gateway('POST', `/3ds/${id}/complete`, { outcome });
}
