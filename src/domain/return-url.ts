/** The longest `returnUrl` a payment may carry (as Stripe's `return_url`). */
export const MAX_RETURN_URL_LENGTH = 2048;

/** Hosts that reach only the customer's own machine: where a shop under development runs. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface ReturnUrlPolicy {
  /** `http:` is allowed for a loopback host (development); everything else must be `https:`. */
  allowHttpLoopback: boolean;
}

/**
 * Why the merchant's `returnUrl` (where the customer's browser is sent after 3-D Secure) is
 * refused, or undefined when it is allowed: an absolute `https:` URL of at most
 * {@link MAX_RETURN_URL_LENGTH} characters without credentials in it; `http:` only on a loopback
 * host and only when the policy allows it. Any other scheme (`javascript:`, `data:`...) would run
 * or show something in Paysaga's name rather than take the customer back to the shop.
 */
export function returnUrlRefusal(
  value: string,
  policy: ReturnUrlPolicy,
  field = 'returnUrl',
): string | undefined {
  if (value.length > MAX_RETURN_URL_LENGTH)
    return `${field} must be at most ${MAX_RETURN_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} must be an absolute URL`;
  }
  if (url.username !== '' || url.password !== '') return `${field} must not contain a user name or password`;
  if (url.protocol === 'https:') return url.hostname === '' ? `${field} must name a host` : undefined;
  if (url.protocol === 'http:') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) return `${field} must be https (http only for a loopback host)`;
    if (!policy.allowHttpLoopback) return `${field} must be https`;
    return undefined;
  }
  return `${field} must be an https URL`;
}

/**
 * The merchant's `returnUrl` with the payment's outcome added to its query (`payment_id`,
 * `status`), keeping the merchant's own parameters; any of ours it already had are replaced.
 */
export function returnUrlWithOutcome(returnUrl: string, paymentId: string, status: string): string {
  const url = new URL(returnUrl);
  url.searchParams.set('payment_id', paymentId);
  url.searchParams.set('status', status);
  return url.toString();
}
