import { createHmac } from 'node:crypto';
import type { Executor } from '../db/client.js';
import { deliveryContext, recordAttempt, type EndpointRow } from './store.js';
import { WEBHOOK_ATTEMPT_TIMEOUT_MS } from './domain.js';
import { SIGNATURE_HEADER } from '../gateway/webhook-signature.js';
import type { WebhookEgress } from './egress.js';
import type { SecretBox } from './secrets.js';

export const EVENT_ID_HEADER = 'Paysaga-Event-Id';

/** What sending a delivery takes: the database, the sealed secrets' key and the way out. */
export interface DeliveryDeps {
  db: Executor;
  box: SecretBox;
  egress: WebhookEgress;
}

export interface AttemptOutcome {
  outcome: 'delivered' | 'failed' | 'already-delivered' | 'missing' | 'endpoint-inactive';
  statusCode?: number | undefined;
  error?: string | undefined;
}

/**
 * `t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per secret that signs now (during a rotation's overlap
 * both the new and the previous one), each an HMAC-SHA256 of `"<t>.<body>"`.
 */
export function signatureHeader(secrets: readonly string[], body: string, timestampSec: number): string {
  const signatures = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex')}`,
  );
  return [`t=${timestampSec}`, ...signatures].join(',');
}

/** The secrets that sign for an endpoint at `now`: its own, and the previous one until it expires. */
export function signingSecrets(endpoint: EndpointRow, box: SecretBox, now: Date): string[] {
  const secrets = [box.open(endpoint.secretCiphertext)];
  if (
    endpoint.previousSecretCiphertext &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt > now
  )
    secrets.push(box.open(endpoint.previousSecretCiphertext));
  return secrets;
}

/**
 * One delivery attempt: one signed HTTP POST of the event with a short timeout, through the
 * egress policy, recorded with its status code and latency, or the generic reason it got none.
 * 2xx is delivered; anything else (410 included) is failed, for the caller to decide what
 * follows. A delivery already delivered is not sent again.
 */
export async function attemptDelivery(
  deps: DeliveryDeps,
  deliveryId: string,
  options: { trigger: 'workflow' | 'manual'; attempt: number; nextRetryAt: (now: Date) => Date | undefined },
): Promise<AttemptOutcome> {
  const context = await deliveryContext(deps.db, deliveryId);
  if (!context) return { outcome: 'missing' };
  if (options.trigger === 'workflow') {
    if (context.delivery.status === 'delivered') return { outcome: 'already-delivered' };
    // Deleted or disabled while this delivery was waiting for its next retry.
    if (context.endpoint.status !== 'enabled') return { outcome: 'endpoint-inactive' };
  }
  const body = JSON.stringify(context.event);
  const now = new Date();
  const started = performance.now();
  const result = await deps.egress.post(
    context.endpoint.url,
    {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Paysaga-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(
          signingSecrets(context.endpoint, deps.box, now),
          body,
          Math.floor(now.getTime() / 1000),
        ),
        [EVENT_ID_HEADER]: context.event.id,
      },
      body,
      timeoutMs: WEBHOOK_ATTEMPT_TIMEOUT_MS,
    },
    { deliveryId, endpointId: context.endpoint.id },
  );
  const statusCode = 'statusCode' in result ? result.statusCode : undefined;
  const error = 'error' in result ? result.error : undefined;
  const delivered = statusCode !== undefined && statusCode >= 200 && statusCode < 300;
  await recordAttempt(deps.db, {
    deliveryId,
    attempt: options.attempt,
    trigger: options.trigger,
    statusCode,
    error: error ?? (delivered ? undefined : `answered ${statusCode}`),
    latencyMs: Math.round(performance.now() - started),
    delivered,
    nextRetryAt: delivered ? undefined : options.nextRetryAt(now),
  });
  return { outcome: delivered ? 'delivered' : 'failed', statusCode, error };
}
