import { createHmac } from 'node:crypto';

/**
 * How the sandbox signs its webhooks, the way a PSP documents it: `Paysaga-Signature:
 * t=<unix seconds>,v1=<hex HMAC-SHA256>` over `"<t>.<raw body>"`. The PSP owns its signing;
 * Paysaga's side only verifies (src/gateway/webhook-signature.ts), and the sandbox gateway
 * integration test checks that the two agree.
 */
export const SIGNATURE_HEADER = 'Paysaga-Signature';

export function signWebhook(secret: string, rawBody: string, timestampSec: number): string {
  const hmac = createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex');
  return `t=${timestampSec},v1=${hmac}`;
}
