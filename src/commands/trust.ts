/**
 * Whose a broker command is. Two trust boundaries, chosen per source:
 *
 * - the shared `paysaga.commands` (Kafka topic, RabbitMQ queue): every message is signed with a
 *   command secret of the tenant it names (`Paysaga-Signature: t=<unix>,v1=<hex>`, the scheme of
 *   Paysaga's webhooks), so being able to publish there is not enough to act for a tenant;
 * - a queue or topic bound to one tenant (`TENANT_COMMAND_SOURCES`), for systems that cannot
 *   sign: the broker's credentials (who may publish there) are the boundary, and every message on
 *   it is that tenant's, whatever it says.
 */
import {
  SIGNATURE_HEADER,
  verifyWebhookSignature,
  WebhookSignatureError,
} from '../gateway/webhook-signature.js';

export { SIGNATURE_HEADER as COMMAND_SIGNATURE_HEADER };

export interface CommandTrust {
  /** Each tenant's command secrets (two during a rotation). */
  secrets: ReadonlyMap<string, readonly string[]>;
  /** Queue / topic name → the tenant whose broker credentials alone may publish there. */
  tenantSources: ReadonlyMap<string, string>;
  toleranceSec: number;
  /** The tenant of a signed command that names none. */
  defaultTenant: string;
}

/** One message as the broker handed it over. */
export interface CommandDelivery {
  body: Buffer | string;
  /** The type the transport carried beside the body (AMQP `type` or routing key, Kafka `type` header). */
  type?: string | undefined;
  /** Its `Paysaga-Signature` header. */
  signature?: string | undefined;
  /** The Kafka topic or RabbitMQ queue it was read from. */
  source: string;
  /** The broker it came from (integration profiles' sources are told apart by it). */
  broker?: 'kafka' | 'amqp' | undefined;
}

export type Authenticated = { ok: true; tenantId: string } | { ok: false; reason: string };

/** The tenant a delivery acts for, or why it may act for none (the reason goes to the DLQ). */
export function authenticate(
  trust: CommandTrust,
  delivery: CommandDelivery,
  claimedTenant: string | undefined,
  nowSec: number,
): Authenticated {
  const bound = trust.tenantSources.get(delivery.source);
  if (bound !== undefined) {
    if (claimedTenant !== undefined && claimedTenant !== bound)
      return {
        ok: false,
        reason: `unauthenticated: tenantId "${claimedTenant}" on ${delivery.source}, which is bound to tenant "${bound}"`,
      };
    return { ok: true, tenantId: bound };
  }
  const tenantId = claimedTenant ?? trust.defaultTenant;
  const secrets = trust.secrets.get(tenantId);
  if (!secrets?.length)
    return { ok: false, reason: `unauthenticated: tenant "${tenantId}" has no command secret` };
  try {
    verifyWebhookSignature(
      secrets,
      Buffer.from(delivery.body),
      delivery.signature,
      nowSec,
      trust.toleranceSec,
    );
    return { ok: true, tenantId };
  } catch (error) {
    if (!(error instanceof WebhookSignatureError)) throw error;
    return { ok: false, reason: `unauthenticated: ${error.reason} (tenant "${tenantId}")` };
  }
}
